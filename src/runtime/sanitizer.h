/* runtime/sanitizer.h -- telling ASan and Valgrind about stack switches.
 *
 * Both tools track "the" stack of a thread; a coroutine switch moves the
 * stack pointer into memory they know nothing about. ASan would then report
 * false stack-buffer overflows and lose its fake stacks; Valgrind would
 * take the switch for a huge stack allocation. Each tool has annotations
 * for this, wrapped here so the scheduler's logic has no #ifdefs. */
#ifndef GT_RUNTIME_SANITIZER_H
#define GT_RUNTIME_SANITIZER_H

#include <stddef.h>
#include <valgrind/valgrind.h>

#if defined(__SANITIZE_ADDRESS__)
#define GT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GT__ASAN 1
#endif
#endif

#ifdef GT__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

/* ASan's instrumentation needs more stack per frame. */
#define GT__STACK_SCALE 4

static inline void gt__san_start_switch(void **fake_save, const void *bottom,
                                        size_t size)
{
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
}

static inline void gt__san_finish_switch(void *fake_save,
                                         const void **old_bottom,
                                         size_t *old_size)
{
    __sanitizer_finish_switch_fiber(fake_save, old_bottom, old_size);
}

/* A recycled stack may still carry the poisoned redzones of frames that
 * never returned (the coroutine's entry frame switched away for good). */
static inline void gt__san_unpoison(void *p, size_t n)
{
    ASAN_UNPOISON_MEMORY_REGION(p, n);
}
#else
#define GT__STACK_SCALE 1

static inline void gt__san_start_switch(void **fake_save, const void *bottom,
                                        size_t size)
{
    (void)fake_save, (void)bottom, (void)size;
}

static inline void gt__san_finish_switch(void *fake_save,
                                         const void **old_bottom,
                                         size_t *old_size)
{
    (void)fake_save, (void)old_bottom, (void)old_size;
}

static inline void gt__san_unpoison(void *p, size_t n)
{
    (void)p, (void)n;
}
#endif

/* ThreadSanitizer: every coroutine is a "fiber" of TSan's, so that it
 * keeps a shadow stack per coroutine and orders what one coroutine does
 * before a switch against what the next one does after it. */
#if defined(__SANITIZE_THREAD__)
#define GT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GT__TSAN 1
#endif
#endif

#ifdef GT__TSAN
#include <sanitizer/tsan_interface.h>

static inline void *gt__tsan_fiber_new(void)
{
    return __tsan_create_fiber(0);
}

static inline void gt__tsan_fiber_free(void *fiber)
{
    if (fiber)
        __tsan_destroy_fiber(fiber);
}

static inline void *gt__tsan_fiber_self(void)
{
    return __tsan_get_current_fiber();
}

static inline void gt__tsan_switch(void *fiber)
{
    __tsan_switch_to_fiber(fiber, 0);
}
#else
static inline void *gt__tsan_fiber_new(void)
{
    return NULL;
}

static inline void gt__tsan_fiber_free(void *fiber)
{
    (void)fiber;
}

static inline void *gt__tsan_fiber_self(void)
{
    return NULL;
}

static inline void gt__tsan_switch(void *fiber)
{
    (void)fiber;
}
#endif

static inline unsigned gt__vg_stack_register(void *lo, void *hi)
{
    return VALGRIND_STACK_REGISTER(lo, hi);
}

static inline void gt__vg_stack_deregister(unsigned id)
{
    VALGRIND_STACK_DEREGISTER(id);
}

/* Scanning a stack's unused part below the stack pointer is deliberate. */
static inline void gt__vg_quiet(int on)
{
    if (on)
        VALGRIND_DISABLE_ERROR_REPORTING;
    else
        VALGRIND_ENABLE_ERROR_REPORTING;
}

#endif
