#include "probe/engine.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SOURCES 4

struct watch {
    int fd;
    short events;
    fd_cb cb;
    void *arg;
};

struct engine {
    struct job *jobs;
    size_t njobs, capjobs;
    /* Jobs in the order they started. All jobs share one timeout, so this is also the order of
     * their deadlines: expiry only ever looks at the front (`expire_pos`), never scans. */
    size_t *started;
    size_t nstarted, expire_pos;
    size_t running;
    int parallel;
    long timeout_ms;
    struct watch *watches;
    size_t nwatches, capwatches;
    struct loop_source sources[MAX_SOURCES];
    size_t nsources;
};

static volatile sig_atomic_t stop_requested;

void engine_stop(void) { stop_requested = 1; }

int64_t engine_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct engine *engine_new(long job_timeout_ms, int parallel)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->timeout_ms = job_timeout_ms;
    e->parallel = parallel > 0 ? parallel : 1;
    stop_requested = 0;
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    free(e->jobs);
    free(e->started);
    free(e->watches);
    free(e);
}

size_t engine_add(struct engine *e, const struct job_ops *ops, void *ctx, const size_t *deps,
                  size_t ndeps)
{
    if (ndeps > JOB_MAX_DEPS)
        return (size_t)-1;
    if (e->njobs == e->capjobs) {
        size_t cap = e->capjobs ? e->capjobs * 2 : 64;
        struct job *nj = realloc(e->jobs, cap * sizeof *nj);
        if (!nj)
            return (size_t)-1;
        e->jobs = nj;
        size_t *ns = realloc(e->started, cap * sizeof *ns);
        if (!ns)
            return (size_t)-1;
        e->started = ns;
        e->capjobs = cap;
    }
    struct job *j = &e->jobs[e->njobs];
    memset(j, 0, sizeof *j);
    j->ops = ops;
    j->ctx = ctx;
    j->state = JOB_PENDING;
    for (size_t i = 0; i < ndeps; i++)
        j->deps[i] = deps[i];
    j->ndeps = ndeps;
    return e->njobs++;
}

struct job *engine_job(struct engine *e, size_t index)
{
    return index < e->njobs ? &e->jobs[index] : NULL;
}

void engine_job_done(struct engine *e, struct job *j)
{
    if (j->state == JOB_RUNNING)
        e->running--;
    j->state = JOB_DONE;
}

int engine_watch(struct engine *e, int fd, short events, fd_cb cb, void *arg)
{
    for (size_t i = 0; i < e->nwatches; i++) {
        if (e->watches[i].fd != fd)
            continue;
        if (events == 0) {
            e->watches[i] = e->watches[--e->nwatches];
        } else {
            e->watches[i] = (struct watch){fd, events, cb, arg};
        }
        return 0;
    }
    if (events == 0)
        return 0;
    if (e->nwatches == e->capwatches) {
        size_t cap = e->capwatches ? e->capwatches * 2 : 64;
        struct watch *nw = realloc(e->watches, cap * sizeof *nw);
        if (!nw)
            return -1;
        e->watches = nw;
        e->capwatches = cap;
    }
    e->watches[e->nwatches++] = (struct watch){fd, events, cb, arg};
    return 0;
}

int engine_add_source(struct engine *e, struct loop_source src)
{
    if (e->nsources == MAX_SOURCES)
        return -1;
    e->sources[e->nsources++] = src;
    return 0;
}

static bool deps_done(const struct engine *e, const struct job *j)
{
    for (size_t i = 0; i < j->ndeps; i++)
        if (j->deps[i] >= e->njobs || e->jobs[j->deps[i]].state != JOB_DONE)
            return false;
    return true;
}

/* Start every pending job whose dependencies are done, up to the concurrency cap. A start may
 * add jobs or finish at once, so indexes are re-read each time. */
static void start_ready(struct engine *e)
{
    bool started;
    do { /* a job that ends inside start() may free jobs listed before it: go round again */
        started = false;
        for (size_t i = 0; i < e->njobs && e->running < (size_t)e->parallel; i++) {
            if (e->jobs[i].state != JOB_PENDING || !deps_done(e, &e->jobs[i]))
                continue;
            struct job *j = &e->jobs[i];
            j->state = JOB_RUNNING;
            j->started_ms = engine_now_ms();
            j->deadline_ms = j->started_ms + e->timeout_ms;
            e->running++;
            e->started[e->nstarted++] = i;
            started = true;
            j->ops->start(e, &e->jobs[i]);
        }
    } while (started);
}

static bool has_startable(const struct engine *e)
{
    for (size_t i = 0; i < e->njobs; i++)
        if (e->jobs[i].state == JOB_PENDING && deps_done(e, &e->jobs[i]))
            return true;
    return false;
}

static void cancel_job(struct engine *e, size_t idx)
{
    struct job *j = &e->jobs[idx];
    if (j->state == JOB_RUNNING)
        j->ops->cancel(e, j);
    if (e->jobs[idx].state == JOB_RUNNING)
        engine_job_done(e, &e->jobs[idx]);
}

static void expire_jobs(struct engine *e, int64_t now)
{
    while (e->expire_pos < e->nstarted) {
        size_t idx = e->started[e->expire_pos];
        if (e->jobs[idx].state == JOB_RUNNING && e->jobs[idx].deadline_ms > now)
            break;
        cancel_job(e, idx);
        e->expire_pos++;
    }
}

static long next_timeout(struct engine *e, int64_t now, int64_t global_deadline)
{
    int64_t wait = global_deadline - now;
    for (size_t i = e->expire_pos; i < e->nstarted; i++) {
        const struct job *j = &e->jobs[e->started[i]];
        if (j->state == JOB_RUNNING) {
            if (j->deadline_ms - now < wait)
                wait = j->deadline_ms - now;
            break;
        }
    }
    for (size_t i = 0; i < e->nsources; i++) {
        long t = e->sources[i].timeout_ms(e->sources[i].ctx);
        if (t >= 0 && t < wait)
            wait = t;
    }
    return wait < 0 ? 0 : (long)wait;
}

static void harvest(struct engine *e, long wait_ms)
{
    size_t n = e->nwatches;
    struct pollfd *pfd = calloc(n ? n : 1, sizeof *pfd);
    if (!pfd)
        return;
    for (size_t i = 0; i < n; i++)
        pfd[i] = (struct pollfd){e->watches[i].fd, e->watches[i].events, 0};
    int rc = poll(pfd, n, (int)(wait_ms > 1000 ? 1000 : wait_ms));
    for (size_t i = 0; rc > 0 && i < n; i++) {
        if (!pfd[i].revents)
            continue;
        /* A callback may have changed the table: look the fd up again. */
        for (size_t w = 0; w < e->nwatches; w++) {
            if (e->watches[w].fd == pfd[i].fd) {
                e->watches[w].cb(e->watches[w].arg, pfd[i].fd, pfd[i].revents);
                break;
            }
        }
    }
    free(pfd);
}

size_t engine_run(struct engine *e, int64_t global_deadline_ms)
{
    start_ready(e);
    while (e->running > 0 || has_startable(e)) {
        int64_t now = engine_now_ms();
        if (stop_requested || now >= global_deadline_ms)
            break;
        harvest(e, next_timeout(e, now, global_deadline_ms));
        for (size_t i = 0; i < e->nsources; i++)
            if (e->sources[i].timeout_ms(e->sources[i].ctx) == 0)
                e->sources[i].expire(e->sources[i].ctx);
        expire_jobs(e, engine_now_ms());
        start_ready(e);
    }
    size_t cancelled = 0;
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state == JOB_RUNNING) {
            cancel_job(e, i);
            cancelled++;
        }
    }
    return cancelled;
}
