/* net/net.h -- the net module's internal interface: a socket watched by
 * its worker's loop with one waiting slot per direction.
 *
 * gt_fdwatch (runtime.h) lets one coroutine wait at a time, which would
 * make a stream half duplex; libuv allows one poll handle per fd. So the
 * watch here is one uv_poll_t started for the union of what its waiters
 * want, and a wait queue per direction: a reader and a writer park at
 * once, each woken by its own event. */
#ifndef GT_NET_INTERNAL_H
#define GT_NET_INTERNAL_H

#include <stdbool.h>

#include "greentor/net.h"

/* Embedded first in gt_tcp and gt_tcp_listener: the poll handle's close
 * callback frees the whole object through it. */
typedef struct gt__watch {
    uv_poll_t poll;  /* poll.data: this watch */
    uv_loop_t *loop; /* the owning worker's */
    int fd;          /* owned: closed with the watch */
    int events;      /* UV_READABLE | UV_WRITABLE the poll is started for */
    bool reading, writing;     /* a coroutine waits to read / to write */
    gt_waitq readers, writers; /* where it parks: at most one each */
} gt__watch;

/* Take ownership of 'fd' and register it with the calling worker's loop.
 * On failure the fd is closed. Returns 0, -EINVAL off a worker, or
 * libuv's error. */
int gt__watch_init(gt__watch *w, int fd);

/* Park until the fd is ready for 'ev' (GT_READABLE or GT_WRITABLE), its
 * socket has an error, or 'deadline'. Returns 0 (ready: retry the call),
 * -ETIMEDOUT, -ECANCELED, -EBUSY (that slot is taken), -EXDEV (another
 * worker's watch) or libuv's error. */
int gt__watch_wait(gt__watch *w, int ev, int64_t deadline);

/* -EXDEV unless called on the watch's worker; -EBUSY if anyone waits. */
int gt__watch_check_idle(const gt__watch *w);
int gt__watch_check_worker(const gt__watch *w);

/* Stop watching, close the fd at once and free 'obj' (the object the watch
 * is embedded in) once libuv has let go of the handle. */
void gt__watch_close(gt__watch *w);

/* Set the options every stream gets (TCP_NODELAY). */
void gt__tcp_tune(int fd);

/* Make a stream of a connected socket (takes ownership of 'fd', closing
 * it on failure). Returns 0, -ENOMEM or libuv's error. */
int gt__tcp_new(gt_tcp **out, int fd);

#endif
