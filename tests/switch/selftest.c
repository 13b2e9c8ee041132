/* tests/switch/selftest.c -- the hand-written context switch on its own.
 *
 * Links one switch_<arch>.S and nothing else of greentor (no libuv, no
 * libc beyond the basics), so that it cross-compiles as a static binary
 * and runs under qemu-user: that is how `make check` tests the AArch64
 * switch on an x86-64 machine. The same program runs natively too.
 *
 * Three coroutines on mmap'd stacks with guard pages and the main context
 * pass control around a ring, main -> 1 -> 2 -> 3 -> main, for ROUNDS
 * rounds. Every switch is made from regs_kept(), a few lines of assembly
 * that fill every callee-saved register with a pattern of its own
 * before switching and count the registers that lost it after coming
 * back; the others clobber the same registers with theirs in between.
 * Each participant also keeps its own floating-point control state
 * (MXCSR and the x87 control word; FPCR on AArch64) and checks it on
 * every resume, and checks that the ring ran in order. A new context
 * must start with the default control state, 16-byte aligned, with its
 * argument, and a stack walk from it (_Unwind_Backtrace, which reads the
 * switch's CFI) must end at the trampoline.
 *
 * Prints one line and exits 0 when all held, else names what failed and
 * exits 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

/* runtime.h's struct gt__ctx and switch interface, copied because that
 * header pulls in libuv. The .S files only use 'sp' at offset 0 and 'uc'
 * at offset 8; tests/test_runtime_switch.c asserts runtime.h's layout. */
typedef struct gt__ctx {
    void *sp;
    void *uc;
} gt__ctx;

void gt__ctx_init(gt__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg);
void gt__ctx_switch(gt__ctx *from, gt__ctx *to);
void gt__ctx_deinit(gt__ctx *c);
void gt__ctx_trampoline(void); /* hidden, but this is one link */

/* Switch from 'from' to 'to' with a pattern derived from 'seed' in every
 * callee-saved register; returns how many lost theirs meanwhile. */
long regs_kept(gt__ctx *from, gt__ctx *to, uint64_t seed);

#define NCO 3 /* coroutines; participant 0 is main */
#define ROUNDS 2000
#define STACK (64 * 1024)

#if defined(__x86_64__)
#define ARCH "x86_64"
#define NREGS 6
__asm__(".text\n"
        ".globl regs_kept\n"
        ".type regs_kept,@function\n"
        "regs_kept:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    pushq %rdx\n" /* the seed; seven pushes align the call */
        "    movq %rdx, %rbx\n"
        "    leaq 1(%rdx), %rbp\n"
        "    leaq 2(%rdx), %r12\n"
        "    leaq 3(%rdx), %r13\n"
        "    leaq 4(%rdx), %r14\n"
        "    leaq 5(%rdx), %r15\n"
        "    call gt__ctx_switch\n"
        "    movq (%rsp), %rdx\n"
        "    xorl %eax, %eax\n"
        "    xorl %ecx, %ecx\n"
        "    cmpq %rdx, %rbx\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    leaq 1(%rdx), %rsi\n"
        "    cmpq %rsi, %rbp\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    leaq 2(%rdx), %rsi\n"
        "    cmpq %rsi, %r12\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    leaq 3(%rdx), %rsi\n"
        "    cmpq %rsi, %r13\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    leaq 4(%rdx), %rsi\n"
        "    cmpq %rsi, %r14\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    leaq 5(%rdx), %rsi\n"
        "    cmpq %rsi, %r15\n"
        "    setne %cl\n"
        "    addq %rcx, %rax\n"
        "    popq %rdx\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size regs_kept, .-regs_kept\n");

/* The control bits of MXCSR (the low six are sticky exception flags,
 * which any arithmetic may set) and the x87 control word. */
typedef struct fpctl {
    uint32_t mxcsr;
    uint16_t fpucw;
} fpctl;

#define MXCSR_CTL 0xffc0u
static const fpctl fp_default = {0x1f80, 0x037f};
/* Rounding, flush-to-zero, denormals-are-zero and x87 precision differ
 * between every two of these. */
static const fpctl fp_own[NCO + 1] = {
    {0x3f80, 0x067f}, /* main: round down; x87 round down, 64-bit */
    {0xff80, 0x0e7f}, /* toward zero + FTZ; x87 toward zero, 53-bit */
    {0x5fc0, 0x087f}, /* up + DAZ; x87 up, 24-bit */
    {0x9f80, 0x027f}, /* nearest + FTZ; x87 nearest, 53-bit */
};

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

static int fp_eq(fpctl a, fpctl b)
{
    return (a.mxcsr & MXCSR_CTL) == (b.mxcsr & MXCSR_CTL) && a.fpucw == b.fpucw;
}

#elif defined(__aarch64__)
#define ARCH "aarch64"
#define NREGS 19 /* x19-x29, d8-d15 */
__asm__(".text\n"
        ".globl regs_kept\n"
        ".type regs_kept,%function\n"
        "regs_kept:\n"
        "    stp x29, x30, [sp, #-176]!\n"
        "    stp x19, x20, [sp, #16]\n"
        "    stp x21, x22, [sp, #32]\n"
        "    stp x23, x24, [sp, #48]\n"
        "    stp x25, x26, [sp, #64]\n"
        "    stp x27, x28, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x2, [sp, #160]\n"
        "    add x19, x2, #1\n"
        "    add x20, x2, #2\n"
        "    add x21, x2, #3\n"
        "    add x22, x2, #4\n"
        "    add x23, x2, #5\n"
        "    add x24, x2, #6\n"
        "    add x25, x2, #7\n"
        "    add x26, x2, #8\n"
        "    add x27, x2, #9\n"
        "    add x28, x2, #10\n"
        "    add x29, x2, #11\n"
        "    add x9, x2, #12\n"
        "    fmov d8, x9\n"
        "    add x9, x2, #13\n"
        "    fmov d9, x9\n"
        "    add x9, x2, #14\n"
        "    fmov d10, x9\n"
        "    add x9, x2, #15\n"
        "    fmov d11, x9\n"
        "    add x9, x2, #16\n"
        "    fmov d12, x9\n"
        "    add x9, x2, #17\n"
        "    fmov d13, x9\n"
        "    add x9, x2, #18\n"
        "    fmov d14, x9\n"
        "    add x9, x2, #19\n"
        "    fmov d15, x9\n"
        "    bl gt__ctx_switch\n"
        "    ldr x2, [sp, #160]\n"
        "    mov x0, #0\n"
        "    add x9, x2, #1\n"
        "    cmp x19, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #2\n"
        "    cmp x20, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #3\n"
        "    cmp x21, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #4\n"
        "    cmp x22, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #5\n"
        "    cmp x23, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #6\n"
        "    cmp x24, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #7\n"
        "    cmp x25, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #8\n"
        "    cmp x26, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #9\n"
        "    cmp x27, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #10\n"
        "    cmp x28, x9\n"
        "    cinc x0, x0, ne\n"
        "    add x9, x2, #11\n"
        "    cmp x29, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d8\n"
        "    add x9, x2, #12\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d9\n"
        "    add x9, x2, #13\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d10\n"
        "    add x9, x2, #14\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d11\n"
        "    add x9, x2, #15\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d12\n"
        "    add x9, x2, #16\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d13\n"
        "    add x9, x2, #17\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d14\n"
        "    add x9, x2, #18\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    fmov x10, d15\n"
        "    add x9, x2, #19\n"
        "    cmp x10, x9\n"
        "    cinc x0, x0, ne\n"
        "    ldp x19, x20, [sp, #16]\n"
        "    ldp x21, x22, [sp, #32]\n"
        "    ldp x23, x24, [sp, #48]\n"
        "    ldp x25, x26, [sp, #64]\n"
        "    ldp x27, x28, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldp x29, x30, [sp], #176\n"
        "    ret\n"
        ".size regs_kept, .-regs_kept\n");

/* FPCR: rounding mode (bits 22-23), flush-to-zero (24), default NaN (25). */
typedef struct fpctl {
    uint64_t fpcr;
} fpctl;

static const fpctl fp_default = {0};
static const fpctl fp_own[NCO + 1] = {
    {1u << 24},              /* main: nearest + FZ */
    {(3u << 22) | 1u << 24}, /* toward zero + FZ */
    {(1u << 22) | 1u << 25}, /* up + DN */
    {2u << 22},              /* down */
};

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

static int fp_eq(fpctl a, fpctl b)
{
    return a.fpcr == b.fpcr;
}
#else
#error "no hand-written switch for this architecture"
#endif

static gt__ctx ctx[NCO + 1];
static int turn; /* who should run now */
static long bad_regs, bad_fp, bad_order, bad_start, bad_unwind, switches;

static uint64_t seed_of(int who, int round)
{
    return 0x1000000000000000ull * (uint64_t)(who + 1) + 64u * (uint64_t)round;
}

/* One hop along the ring, from participant 'who' to the next, and the
 * checks once control is back. */
static void hop(int who, int round)
{
    int next = (who + 1) % (NCO + 1);

    turn = next;
    switches++;
    bad_regs += regs_kept(&ctx[who], &ctx[next], seed_of(who, round));
    if (turn != who)
        bad_order++;
    if (!fp_eq(fp_get(), fp_own[who]))
        bad_fp++;
}

/* A pointer the compiler cannot reason about, so that an alignment check
 * on it is not folded away. */
static __attribute__((noinline)) uintptr_t opaque(const void *p)
{
    uintptr_t u = (uintptr_t)p;

    __asm__ volatile("" : "+r"(u));
    return u;
}

typedef struct walk {
    uintptr_t last; /* the outermost frame's address seen so far */
    int n;
} walk;

static _Unwind_Reason_Code record(struct _Unwind_Context *uc, void *arg)
{
    walk *w = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(uc);

    if (++w->n > 64)
        return _URC_NORMAL_STOP; /* a runaway walk */
    if (ip)
        w->last = ip;
    return _URC_NO_REASON;
}

/* The walk from a coroutine must end, and end in the trampoline, whose
 * CFI marks the return address undefined. */
static int unwinds_to_trampoline(void)
{
    walk w = {0, 0};
    uintptr_t t = (uintptr_t)gt__ctx_trampoline;

    return _Unwind_Backtrace(record, &w) == _URC_END_OF_STACK && w.last > t &&
           w.last < t + 32;
}

static void entry(void *arg)
{
    int who = (int)(intptr_t)arg;
    _Alignas(16) char probe[16] = {0};

    /* The frame was built for this argument, with the ABI's alignment
     * and the default control state, whatever its creator had. */
    if (turn != who || opaque(probe) % 16 != 0 || !fp_eq(fp_get(), fp_default))
        bad_start++;
    fp_set(fp_own[who]);
    if (!unwinds_to_trampoline())
        bad_unwind++;
    for (int round = 0;; round++)
        hop(who, round);
}

static void *stack_new(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, STACK + (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, (size_t)page, PROT_NONE) != 0) /* guard the bottom */
        return NULL;
    return m + page;
}

int main(void)
{
    fpctl saved = fp_get();

    for (int i = 1; i <= NCO; i++) {
        void *lo = stack_new();

        if (!lo) {
            perror("switch self-test: mmap");
            return 1;
        }
        gt__ctx_init(&ctx[i], lo, STACK, entry, (void *)(intptr_t)i);
    }
    fp_set(fp_own[0]);
    for (int round = 0; round < ROUNDS; round++)
        hop(0, round);
    fp_set(saved);
    gt__ctx_deinit(&ctx[0]);

    if (bad_regs || bad_fp || bad_order || bad_start || bad_unwind ||
        switches != (long)ROUNDS * (NCO + 1)) {
        printf("switch self-test (" ARCH "): FAILED: %ld lost registers, "
               "%ld lost FP control states, %ld out of order, %ld bad "
               "starts, %ld bad stack walks, %ld switches\n",
               bad_regs, bad_fp, bad_order, bad_start, bad_unwind, switches);
        return 1;
    }
    printf("switch self-test (" ARCH "): %ld switches, %d callee-saved "
           "registers and the FP control state kept by each of %d "
           "contexts, stack walks end at the trampoline: ok\n",
           switches, NREGS, NCO + 1);
    return 0;
}
