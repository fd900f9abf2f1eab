/* The engine: one poll() loop that owns every socket and timer of the run. Libraries (libcurl
 * multi, c-ares) plug in through engine_watch() for their sockets and a loop_source for their
 * timers. Work is a list of jobs; a job starts when the jobs it depends on are done, at most
 * `parallel` run at once, and each has a deadline of start + timeout (monotonic clock).
 * Every pass: harvest ready sockets, then expire library timers and job deadlines, then start
 * what may start. The loop ends when nothing runs and nothing can start, or at the global
 * deadline, when every unfinished job is cancelled so a report can always be printed. */
#ifndef AZB_ENGINE_H
#define AZB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct job;

struct job_ops {
    const char *name;
    /* Begin the work. Call engine_job_done() (now or later) when the result is final. */
    void (*start)(struct engine *e, struct job *j);
    /* The job's deadline passed (or the run is ending): record a timeout, release I/O and call
     * engine_job_done(). */
    void (*cancel)(struct engine *e, struct job *j);
};

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE };

#define JOB_MAX_DEPS 3

struct job {
    const struct job_ops *ops;
    void *ctx;                 /* the probe's own state */
    enum job_state state;
    size_t deps[JOB_MAX_DEPS]; /* indexes of jobs that must be done first */
    size_t ndeps;
    int64_t started_ms, deadline_ms;
};

/* A library timer: how long until it wants service (-1: never), and the service call. */
struct loop_source {
    long (*timeout_ms)(void *ctx);
    void (*expire)(void *ctx);
    void *ctx;
};

typedef void (*fd_cb)(void *arg, int fd, short revents);

struct engine *engine_new(long job_timeout_ms, int parallel);
void engine_free(struct engine *e);

/* Monotonic milliseconds. */
int64_t engine_now_ms(void);

/* Add a job; returns its index (stable), or (size_t)-1 when out of memory. May be called while
 * the loop runs (a finished job can plan more work). */
size_t engine_add(struct engine *e, const struct job_ops *ops, void *ctx, const size_t *deps,
                  size_t ndeps);
struct job *engine_job(struct engine *e, size_t index);
void engine_job_done(struct engine *e, struct job *j);

/* Watch fd for events (POLLIN|POLLOUT); events 0 stops watching. */
int engine_watch(struct engine *e, int fd, short events, fd_cb cb, void *arg);
int engine_add_source(struct engine *e, struct loop_source src);

/* Run until all jobs are done or the global deadline (absolute, monotonic ms) passes.
 * Returns the number of jobs cancelled by the global deadline. */
size_t engine_run(struct engine *e, int64_t global_deadline_ms);

/* Ask the loop to wrap up at the next pass (SIGINT). Async-signal-safe. */
void engine_stop(void);

#endif
