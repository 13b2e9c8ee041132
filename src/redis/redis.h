/* redis/redis.h -- the redis module's internal interface: replies copied
 * out of hiredis (reply.c) for the connection code (conn.c).
 *
 * hiredis 0.14 frees a reply as soon as its callback returns, so a reply
 * that is to outlive the callback -- the caller owns it -- is copied into
 * one allocation of ours: nodes first, then the strings. */
#ifndef GT_REDIS_INTERNAL_H
#define GT_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "greentor/redis.h"

/* Copy hiredis' reply 'src' into a new reply of ours, not yet tracked.
 * Any thread. Returns 0 or -ENOMEM. */
int gt__redis_reply_copy(gt_redis_reply **out, const redisReply *src);

/* Hand 'rp' to the calling coroutine, which frees it when it ends unless
 * the caller does first. Returns 0, or -ENOMEM (then rp was freed). */
int gt__redis_reply_track(gt_redis_reply *rp);

#endif
