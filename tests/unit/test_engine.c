/* Unit tests: probe/engine.c (jobs, dependencies, concurrency cap, deadlines), driven by fake
 * jobs, a fake timer source and pipes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/engine.h"

#define MAX_JOBS 256

/* What happened, in order. */
struct log {
    size_t started[MAX_JOBS], nstarted;
    size_t cancelled[MAX_JOBS], ncancelled;
    size_t running, max_running;
    size_t queue[MAX_JOBS], qhead, qtail; /* running jobs, oldest first */
};

struct fake {
    struct engine *e;
    size_t index;          /* this job's index in the engine */
    int fds[2];            /* pipe for the pipe-driven job */
    size_t spawn;          /* jobs to add from start */
    const struct job_ops *spawn_ops;
};

static struct log lg;

static size_t index_of(struct engine *e, struct job *j)
{
    for (size_t i = 0;; i++) {
        struct job *k = engine_job(e, i);
        assert_non_null(k);
        if (k == j)
            return i;
    }
}

static void note_start(struct engine *e, struct job *j)
{
    struct fake *f = j->ctx;
    assert_int_equal(j->state, JOB_RUNNING);
    assert_int_equal(index_of(e, j), f->index);
    lg.started[lg.nstarted++] = f->index;
    lg.running++;
    if (lg.running > lg.max_running)
        lg.max_running = lg.running;
}

static void finish(struct engine *e, size_t index)
{
    struct job *j = engine_job(e, index);
    assert_non_null(j);
    assert_int_equal(j->state, JOB_RUNNING);
    lg.running--;
    engine_job_done(e, j);
    assert_int_equal(j->state, JOB_DONE);
}

/* Finishes at once. */
static void start_now(struct engine *e, struct job *j)
{
    note_start(e, j);
    finish(e, ((struct fake *)j->ctx)->index);
}

/* Never finishes on its own. */
static void start_never(struct engine *e, struct job *j)
{
    note_start(e, j);
}

static void cancel_record(struct engine *e, struct job *j)
{
    struct fake *f = j->ctx;
    lg.cancelled[lg.ncancelled++] = f->index;
    finish(e, f->index);
}

/* Does not call engine_job_done: the engine must finish the job itself. */
static void cancel_lazy(struct engine *e, struct job *j)
{
    (void)e;
    struct fake *f = j->ctx;
    lg.cancelled[lg.ncancelled++] = f->index;
    lg.running--;
}

static void cancel_unexpected(struct engine *e, struct job *j)
{
    (void)e;
    (void)j;
    fail_msg("cancel called on a job that finished");
}

static const struct job_ops now_ops = {"now", start_now, cancel_unexpected};
static const struct job_ops never_ops = {"never", start_never, cancel_record};
static const struct job_ops lazy_ops = {"lazy", start_never, cancel_lazy};

static struct fake fakes[MAX_JOBS];

static size_t add_job(struct engine *e, const struct job_ops *ops, const size_t *deps, size_t ndeps)
{
    size_t i = engine_add(e, ops, NULL, deps, ndeps);
    assert_true(i != (size_t)-1);
    assert_true(i < MAX_JOBS);
    fakes[i] = (struct fake){.e = e, .index = i, .fds = {-1, -1}};
    engine_job(e, i)->ctx = &fakes[i];
    return i;
}

static int reset(void **state)
{
    (void)state;
    memset(&lg, 0, sizeof lg);
    memset(fakes, 0, sizeof fakes);
    return 0;
}

static void test_immediate_jobs(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 4);
    assert_non_null(e);
    for (int i = 0; i < 10; i++)
        add_job(e, &now_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 500);
    assert_int_equal(lg.nstarted, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(lg.started[i], i);
        assert_int_equal(engine_job(e, i)->state, JOB_DONE);
    }
    assert_int_equal(lg.ncancelled, 0);
    assert_null(engine_job(e, 10));
    engine_free(e);
}

static void test_empty_run(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 4);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 100);
    engine_free(e);
}

static void test_job_deadline(void **state)
{
    (void)state;
    struct engine *e = engine_new(50, 4);
    size_t a = add_job(e, &never_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    int64_t elapsed = engine_now_ms() - t0;
    assert_int_equal(lg.ncancelled, 1);
    assert_int_equal(lg.cancelled[0], a);
    assert_true(elapsed >= 45);
    assert_true(elapsed < 500);
    assert_int_equal(engine_job(e, a)->state, JOB_DONE);
    assert_true(engine_job(e, a)->deadline_ms - engine_job(e, a)->started_ms == 50);
    engine_free(e);
}

static void test_deadline_engine_finishes_job(void **state)
{
    (void)state;
    struct engine *e = engine_new(30, 1);
    size_t a = add_job(e, &lazy_ops, NULL, 0);
    size_t b = add_job(e, &lazy_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    int64_t elapsed = engine_now_ms() - t0;
    assert_int_equal(lg.nstarted, 2);
    assert_int_equal(lg.ncancelled, 2);
    assert_int_equal(lg.cancelled[0], a);
    assert_int_equal(lg.cancelled[1], b);
    assert_int_equal(engine_job(e, a)->state, JOB_DONE);
    assert_int_equal(engine_job(e, b)->state, JOB_DONE);
    assert_true(elapsed >= 55);
    assert_true(elapsed < 500);
    engine_free(e);
}

static void test_deps_order(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 8);
    size_t a = add_job(e, &now_ops, NULL, 0);
    size_t b = add_job(e, &now_ops, &a, 1);
    size_t deps_c[2] = {a, b};
    size_t c = add_job(e, &now_ops, deps_c, 2);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_int_equal(lg.nstarted, 3);
    assert_int_equal(lg.started[0], a);
    assert_int_equal(lg.started[1], b);
    assert_int_equal(lg.started[2], c);
    engine_free(e);
}

static void test_dep_on_later_job(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 8);
    size_t later = 1;
    size_t b = add_job(e, &now_ops, &later, 1);
    size_t a = add_job(e, &now_ops, NULL, 0);
    assert_int_equal(a, later);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_int_equal(lg.nstarted, 2);
    assert_int_equal(lg.started[0], a);
    assert_int_equal(lg.started[1], b);
    assert_int_equal(engine_job(e, b)->state, JOB_DONE);
    engine_free(e);
}

/* A job that ends inside start() frees a waiting job listed before it: no idle wait. */
static void test_dep_freed_during_start(void **state)
{
    (void)state;
    struct engine *e = engine_new(5000, 8);
    size_t later = 1;
    size_t b = add_job(e, &now_ops, &later, 1);
    add_job(e, &now_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 200);
    assert_int_equal(engine_job(e, b)->state, JOB_DONE);
    engine_free(e);
}

static void test_deps_wait_for_running_job(void **state)
{
    (void)state;
    struct engine *e = engine_new(40, 8);
    size_t a = add_job(e, &never_ops, NULL, 0);
    size_t b = add_job(e, &now_ops, &a, 1);
    size_t c = add_job(e, &now_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_int_equal(lg.nstarted, 3);
    assert_int_equal(lg.started[0], a);
    assert_int_equal(lg.started[1], c);
    assert_int_equal(lg.started[2], b);
    assert_int_equal(lg.ncancelled, 1);
    assert_true(engine_job(e, b)->started_ms - t0 >= 35);
    engine_free(e);
}

static void test_deps_never_done(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 8);
    size_t missing = 42;
    size_t a = add_job(e, &now_ops, &missing, 1);
    size_t many[JOB_MAX_DEPS + 1] = {0, 0, 0, 0};
    assert_true(engine_add(e, &now_ops, NULL, many, JOB_MAX_DEPS + 1) == (size_t)-1);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 500);
    assert_int_equal(lg.nstarted, 0);
    assert_int_equal(engine_job(e, a)->state, JOB_PENDING);
    engine_free(e);
}

/* ---- a timer source that finishes the oldest running job every few milliseconds ---- */

struct timer {
    struct engine *e;
    int64_t due;      /* 0: idle */
    long period_ms;
    size_t expired;
};

static void queue_start(struct engine *e, struct job *j)
{
    note_start(e, j);
    lg.queue[lg.qtail++] = ((struct fake *)j->ctx)->index;
}

static long timer_timeout(void *ctx)
{
    struct timer *t = ctx;
    if (lg.qhead == lg.qtail) {
        t->due = 0;
        return -1;
    }
    int64_t now = engine_now_ms();
    if (!t->due)
        t->due = now + t->period_ms;
    return t->due <= now ? 0 : (long)(t->due - now);
}

static void timer_expire(void *ctx)
{
    struct timer *t = ctx;
    assert_true(lg.qhead < lg.qtail);
    t->expired++;
    finish(t->e, lg.queue[lg.qhead++]);
    t->due = 0;
}

static const struct job_ops queue_ops = {"queued", queue_start, cancel_unexpected};

static void test_concurrency_cap(void **state)
{
    (void)state;
    struct engine *e = engine_new(5000, 2);
    struct timer t = {e, 0, 5, 0};
    assert_int_equal(engine_add_source(e, (struct loop_source){timer_timeout, timer_expire, &t}), 0);
    for (int i = 0; i < 5; i++)
        add_job(e, &queue_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    int64_t elapsed = engine_now_ms() - t0;
    assert_int_equal(lg.nstarted, 5);
    assert_int_equal(lg.max_running, 2);
    assert_int_equal(t.expired, 5);
    assert_int_equal(lg.running, 0);
    assert_int_equal(lg.ncancelled, 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(lg.started[i], i);
        assert_int_equal(engine_job(e, i)->state, JOB_DONE);
    }
    assert_true(elapsed >= 20);
    assert_true(elapsed < 1000);
    engine_free(e);
}

static void test_parallel_one(void **state)
{
    (void)state;
    struct engine *e = engine_new(5000, 0);
    struct timer t = {e, 0, 2, 0};
    assert_int_equal(engine_add_source(e, (struct loop_source){timer_timeout, timer_expire, &t}), 0);
    for (int i = 0; i < 4; i++)
        add_job(e, &queue_ops, NULL, 0);
    assert_int_equal(engine_run(e, engine_now_ms() + 5000), 0);
    assert_int_equal(lg.nstarted, 4);
    assert_int_equal(lg.max_running, 1);
    engine_free(e);
}

/* ---- the global deadline ---- */

static void test_global_deadline(void **state)
{
    (void)state;
    struct engine *e = engine_new(60000, 2);
    size_t a = add_job(e, &never_ops, NULL, 0);
    size_t b = add_job(e, &never_ops, NULL, 0);
    size_t c = add_job(e, &never_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 60), 2);
    int64_t elapsed = engine_now_ms() - t0;
    assert_true(elapsed >= 55);
    assert_true(elapsed < 500);
    assert_int_equal(lg.nstarted, 2);
    assert_int_equal(lg.ncancelled, 2);
    assert_int_equal(engine_job(e, a)->state, JOB_DONE);
    assert_int_equal(engine_job(e, b)->state, JOB_DONE);
    assert_int_equal(engine_job(e, c)->state, JOB_PENDING);
    engine_free(e);
}

static void test_global_deadline_in_the_past(void **state)
{
    (void)state;
    struct engine *e = engine_new(60000, 4);
    add_job(e, &never_ops, NULL, 0);
    add_job(e, &now_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 - 1), 1);
    assert_true(engine_now_ms() - t0 < 100);
    assert_int_equal(lg.ncancelled, 1);
    assert_int_equal(lg.cancelled[0], 0);
    engine_free(e);
}

/* ---- jobs that add jobs ---- */

static void start_spawner(struct engine *e, struct job *j)
{
    struct fake *f = j->ctx;
    size_t self = f->index, spawn = f->spawn;
    const struct job_ops *ops = f->spawn_ops;
    note_start(e, j);
    for (size_t k = 0; k < spawn; k++) {
        size_t deps[1] = {self};
        size_t i = add_job(e, ops, deps, 1);
        assert_true(i > self);
    }
    finish(e, self);
}

static const struct job_ops spawner_ops = {"spawner", start_spawner, cancel_unexpected};

static void test_job_adds_job(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 4);
    size_t a = add_job(e, &spawner_ops, NULL, 0);
    fakes[a].spawn = 1;
    fakes[a].spawn_ops = &now_ops;
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 500);
    assert_int_equal(lg.nstarted, 2);
    assert_int_equal(lg.started[0], a);
    assert_int_equal(lg.started[1], a + 1);
    assert_int_equal(engine_job(e, a + 1)->state, JOB_DONE);
    engine_free(e);
}

static void test_job_adds_many_jobs(void **state)
{
    (void)state;
    struct engine *e = engine_new(1000, 8);
    size_t a = add_job(e, &spawner_ops, NULL, 0);
    fakes[a].spawn = 150;
    fakes[a].spawn_ops = &now_ops;
    assert_int_equal(engine_run(e, engine_now_ms() + 5000), 0);
    assert_int_equal(lg.nstarted, 151);
    for (size_t i = 0; i <= 150; i++)
        assert_int_equal(engine_job(e, i)->state, JOB_DONE);
    engine_free(e);
}

/* ---- pipes ---- */

static void on_readable(void *arg, int fd, short revents)
{
    struct fake *f = arg;
    struct engine *e = f->e;
    assert_true(revents & POLLIN);
    assert_int_equal(fd, f->fds[0]);
    char byte;
    assert_int_equal(read(fd, &byte, 1), 1);
    assert_int_equal(engine_watch(e, fd, 0, NULL, NULL), 0);
    finish(e, f->index);
}

static void start_pipe(struct engine *e, struct job *j)
{
    struct fake *f = j->ctx;
    note_start(e, j);
    assert_int_equal(pipe(f->fds), 0);
    assert_int_equal(engine_watch(e, f->fds[0], POLLIN, on_readable, f), 0);
}

static void cancel_pipe(struct engine *e, struct job *j)
{
    struct fake *f = j->ctx;
    lg.cancelled[lg.ncancelled++] = f->index;
    engine_watch(e, f->fds[0], 0, NULL, NULL);
    finish(e, f->index);
}

static const struct job_ops pipe_ops = {"pipe", start_pipe, cancel_pipe};

/* A timer that writes one byte into the next pipe every few milliseconds. */
struct writer {
    size_t next, count;
    int64_t due;
};

static long writer_timeout(void *ctx)
{
    struct writer *w = ctx;
    if (w->next == w->count || fakes[w->next].fds[1] < 0)
        return -1;
    int64_t now = engine_now_ms();
    if (!w->due)
        w->due = now + 3;
    return w->due <= now ? 0 : (long)(w->due - now);
}

static void writer_expire(void *ctx)
{
    struct writer *w = ctx;
    assert_int_equal(write(fakes[w->next].fds[1], "x", 1), 1);
    w->next++;
    w->due = 0;
}

static void test_pipe_jobs(void **state)
{
    (void)state;
    struct engine *e = engine_new(2000, 4);
    for (int i = 0; i < 3; i++)
        add_job(e, &pipe_ops, NULL, 0);
    size_t dep = 2;
    size_t last = add_job(e, &now_ops, &dep, 1);
    struct writer w = {0, 3, 0};
    assert_int_equal(engine_add_source(e, (struct loop_source){writer_timeout, writer_expire, &w}), 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    assert_true(engine_now_ms() - t0 < 1000);
    assert_int_equal(lg.ncancelled, 0);
    assert_int_equal(lg.nstarted, 4);
    assert_int_equal(lg.started[3], last);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(engine_job(e, i)->state, JOB_DONE);
        close(fakes[i].fds[0]);
        close(fakes[i].fds[1]);
    }
    engine_free(e);
}

static void test_pipe_job_times_out(void **state)
{
    (void)state;
    struct engine *e = engine_new(40, 4);
    size_t a = add_job(e, &pipe_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 5000), 0);
    int64_t elapsed = engine_now_ms() - t0;
    assert_int_equal(lg.ncancelled, 1);
    assert_int_equal(lg.cancelled[0], a);
    assert_true(elapsed >= 35);
    assert_true(elapsed < 500);
    close(fakes[a].fds[0]);
    close(fakes[a].fds[1]);
    engine_free(e);
}

static void test_source_limit(void **state)
{
    (void)state;
    struct engine *e = engine_new(100, 1);
    struct timer t = {e, 0, 5, 0};
    int added = 0;
    for (int i = 0; i < 10; i++)
        added += engine_add_source(e, (struct loop_source){timer_timeout, timer_expire, &t}) == 0;
    assert_true(added >= 1);
    assert_true(added < 10);
    engine_free(e);
}

static void start_stopper(struct engine *e, struct job *j)
{
    note_start(e, j);
    engine_stop();
}

static const struct job_ops stopper_ops = {"stopper", start_stopper, cancel_record};

static void test_stop(void **state)
{
    (void)state;
    struct engine *e = engine_new(60000, 4);
    add_job(e, &stopper_ops, NULL, 0);
    add_job(e, &never_ops, NULL, 0);
    int64_t t0 = engine_now_ms();
    assert_int_equal(engine_run(e, t0 + 60000), 2);
    assert_true(engine_now_ms() - t0 < 500);
    assert_int_equal(lg.ncancelled, 2);
    engine_free(e);

    /* A new engine starts afresh. */
    memset(&lg, 0, sizeof lg);
    e = engine_new(1000, 4);
    add_job(e, &now_ops, NULL, 0);
    assert_int_equal(engine_run(e, engine_now_ms() + 5000), 0);
    assert_int_equal(lg.nstarted, 1);
    engine_free(e);
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_immediate_jobs),
        T(test_empty_run),
        T(test_job_deadline),
        T(test_deadline_engine_finishes_job),
        T(test_deps_order),
        T(test_dep_on_later_job),
        T(test_dep_freed_during_start),
        T(test_deps_wait_for_running_job),
        T(test_deps_never_done),
        T(test_concurrency_cap),
        T(test_parallel_one),
        T(test_global_deadline),
        T(test_global_deadline_in_the_past),
        T(test_job_adds_job),
        T(test_job_adds_many_jobs),
        T(test_pipe_jobs),
        T(test_pipe_job_times_out),
        T(test_source_limit),
        T(test_stop),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
