/* tests/test_runtime_switch.c -- the context switch, seen from coroutines:
 * each keeps its own floating-point control state across yields, and a
 * stack walk from inside a coroutine ends cleanly at its first frame.
 *
 * These run with whichever switch the build picked (switch_<arch>.S, or
 * switch_ucontext.c with SWITCH=ucontext); tests/switch/selftest.c checks
 * the hand-written switches' registers on their own, also under qemu. */
#include <execinfo.h>
#include <fenv.h>
#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <unwind.h>
#include <valgrind/valgrind.h>

#include "runtime/runtime.h"
#include "util.h"

/* The .S switches address struct gt__ctx by these offsets. */
_Static_assert(offsetof(gt__ctx, sp) == 0, "switch_<arch>.S: sp at 0");
_Static_assert(offsetof(gt__ctx, uc) == sizeof(void *),
               "switch_<arch>.S: uc right after sp");

#define ROUNDS 5

/* ---- the FP control registers themselves ------------------------------- */

#if defined(__x86_64__)
/* MXCSR's control bits (the low six are sticky exception flags that any
 * arithmetic may set) and the x87 control word. */
typedef struct fpctl {
    uint32_t mxcsr;
    uint16_t fpucw;
} fpctl;

#define MXCSR_CTL 0xffc0u
#define HAVE_FPCTL 1
/* A: SSE round toward zero + flush-to-zero; x87 53-bit, toward zero.
 * B: SSE round up + denormals-are-zero; x87 24-bit, round up. */
static const fpctl fp_a = {0xff80, 0x0e7f};
static const fpctl fp_b = {0x5fc0, 0x087f};

static void fp_set(fpctl f)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(f.mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(f.fpucw));
}

static fpctl fp_get(void)
{
    fpctl f;

    __asm__ volatile("stmxcsr %0" : "=m"(f.mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(f.fpucw));
    f.mxcsr &= MXCSR_CTL;
    return f;
}

static int fp_eq(fpctl x, fpctl y)
{
    return (x.mxcsr & MXCSR_CTL) == (y.mxcsr & MXCSR_CTL) && x.fpucw == y.fpucw;
}
#elif defined(__aarch64__)
typedef struct fpctl {
    uint64_t fpcr;
} fpctl;

#define HAVE_FPCTL 1
/* A: round toward zero + flush-to-zero. B: round up + default NaN. */
static const fpctl fp_a = {(3u << 22) | (1u << 24)};
static const fpctl fp_b = {(1u << 22) | (1u << 25)};

static void fp_set(fpctl f)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(f.fpcr));
}

static fpctl fp_get(void)
{
    fpctl f;

    __asm__ volatile("mrs %0, fpcr" : "=r"(f.fpcr));
    return f;
}

static int fp_eq(fpctl x, fpctl y)
{
    return x.fpcr == y.fpcr;
}
#else
/* Other architectures run only the portable <fenv.h> test below. */
#define HAVE_FPCTL 0
typedef struct fpctl {
    int none;
} fpctl;

static const fpctl fp_a = {0}, fp_b = {0};

static void fp_set(fpctl f)
{
    (void)f;
}

static fpctl fp_get(void)
{
    return fp_a;
}

static int fp_eq(fpctl x, fpctl y)
{
    return x.none == y.none;
}
#endif

/* Volatile operands keep the division at run time, under the live
 * rounding mode and flush-to-zero setting. */
static volatile double one = 1.0, three = 3.0, tiny = DBL_MIN;

static double third(void)
{
    return one / three;
}

static double tiny_quarter(void)
{
    return tiny / 4.0; /* a denormal, or 0 when flushed to zero */
}

typedef struct fpside {
    fpctl want;
    double third;   /* 1/3 under this side's rounding */
    double quarter; /* DBL_MIN/4 under this side's flush-to-zero */
    int lost;       /* resumes that found another state */
} fpside;

static int keep_fpctl(void *arg)
{
    fpside *me = arg;

    fp_set(me->want);
    for (int i = 0; i < ROUNDS; i++) {
        ck_assert_int_eq(gt_yield(), 0); /* the other side runs meanwhile */
        if (!fp_eq(fp_get(), me->want))
            me->lost++;
    }
    me->third = third();
    me->quarter = tiny_quarter();
    return 0;
}

static int t_fpctl(void *arg)
{
    fpside a = {.want = fp_a}, b = {.want = fp_b};
    gt_co *ca, *cb;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&ca, keep_fpctl, &a), 0);
    ck_assert_int_eq(gt_co_spawn(&cb, keep_fpctl, &b), 0);
    ck_assert_int_eq(gt_co_join(ca, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_join(cb, NULL, GT_NEVER), 0);
    ck_assert_int_eq(a.lost, 0);
    ck_assert_int_eq(b.lost, 0);
    /* The states were live, not just stored: toward zero gives the lower
     * neighbour of 1/3, upward the higher; A flushes the denormal. */
    ck_assert(a.third < b.third);
    ck_assert(a.quarter == 0.0);
    ck_assert(b.quarter > 0.0);
    return 0;
}

START_TEST(fp_control_state_survives_a_switch)
{
    fpctl before = fp_get();

    ck_assert_int_eq(run_main(t_fpctl, NULL), 0);
    /* The loop ran on this thread and never saw the coroutines' state. */
    ck_assert(fp_eq(fp_get(), before));
}
END_TEST

/* ---- the same through <fenv.h>, on every architecture ------------------ */

typedef struct roundside {
    int mode;
    int lost;
} roundside;

static int keep_rounding(void *arg)
{
    roundside *me = arg;

    ck_assert_int_eq(fesetround(me->mode), 0);
    for (int i = 0; i < ROUNDS; i++) {
        ck_assert_int_eq(gt_yield(), 0);
        if (fegetround() != me->mode)
            me->lost++;
    }
    return 0;
}

static int t_rounding(void *arg)
{
    roundside s[3] = {{FE_TOWARDZERO, 0}, {FE_UPWARD, 0}, {FE_DOWNWARD, 0}};
    gt_co *co[3];

    (void)arg;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], keep_rounding, &s[i]), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
        ck_assert_int_eq(s[i].lost, 0);
    }
    /* This coroutine never changed its own. */
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    return 0;
}

START_TEST(each_coroutine_keeps_its_rounding_mode)
{
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    ck_assert_int_eq(run_main(t_rounding, NULL), 0);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
}
END_TEST

/* ---- unwinding from inside a coroutine ----------------------------------- */

/* Only the hand-written switches define it; weak, so the ucontext build
 * links and skips the check that needs it. */
extern void gt__ctx_trampoline(void) __attribute__((weak));

#define MAX_FRAMES 128

typedef struct walk {
    uintptr_t ip[MAX_FRAMES];
    int n;
} walk;

static _Unwind_Reason_Code record(struct _Unwind_Context *ctx, void *arg)
{
    walk *w = arg;

    if (w->n == MAX_FRAMES)
        return _URC_NORMAL_STOP; /* a runaway walk: the test fails */
    w->ip[w->n++] = (uintptr_t)_Unwind_GetIP(ctx);
    return _URC_NO_REASON;
}

static int walker(void *arg)
{
    walk *w = arg;
    void *bt[MAX_FRAMES];
    int found_self = 0, last = -1;

    /* After a switch, so the walk starts on a stack that has been
     * switched away from and back to. */
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(_Unwind_Backtrace(record, w), _URC_END_OF_STACK);
    ck_assert_int_lt(w->n, MAX_FRAMES);
    for (int i = 0; i < w->n; i++) {
        if (w->ip[i] == 0)
            continue;
        last = i;
        if (_Unwind_FindEnclosingFunction((void *)w->ip[i]) == (void *)walker)
            found_self = 1;
    }
    ck_assert_msg(found_self, "the walk did not pass this coroutine's entry");
    if (gt__ctx_trampoline) {
        /* The outermost frame is the trampoline, whose return address
         * the CFI marks undefined: the walk ends there, not beyond. */
        uintptr_t t = (uintptr_t)gt__ctx_trampoline;

        ck_assert_int_ge(last, 0);
        ck_assert_msg(w->ip[last] > t && w->ip[last] < t + 32,
                      "last frame %#lx, trampoline at %#lx",
                      (unsigned long)w->ip[last], (unsigned long)t);
    }
    /* glibc's backtrace() walks the same way and must stop as well. */
    ck_assert_int_lt(backtrace(bt, MAX_FRAMES), MAX_FRAMES);
    return 0;
}

static int t_unwind(void *arg)
{
    walk w = {.n = 0};
    gt_co *co;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, walker, &w), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_gt(w.n, 2);
    return 0;
}

START_TEST(unwinding_in_a_coroutine_ends_at_its_first_frame)
{
    ck_assert_int_eq(run_main(t_unwind, NULL), 0);
}
END_TEST

void add_runtime_switch_tests(Suite *s)
{
    TCase *tc = tcase_create("switch");

    /* Not where there is no such register, nor under valgrind (`make
     * valgrind`), whose CPU emulation ignores flush-to-zero, DAZ and x87
     * precision control and reads back values of its own: there the test
     * would measure valgrind, not the switch. */
    if (HAVE_FPCTL && !RUNNING_ON_VALGRIND)
        tcase_add_test(tc, fp_control_state_survives_a_switch);
    tcase_add_test(tc, each_coroutine_keeps_its_rounding_mode);
    tcase_add_test(tc, unwinding_in_a_coroutine_ends_at_its_first_frame);
    suite_add_tcase(s, tc);
}
