/* runtime/switch_x86_64.S -- context switch for x86-64 System V.
 *
 * A switch saves only what the ABI makes callee-saved -- rbx, rbp, r12-r15,
 * the stack pointer, and the MXCSR and x87 control words -- because the C
 * compiler has already spilled everything else around the call. That is
 * why it costs a few nanoseconds where swapcontext(), which also saves the
 * signal mask with a system call, costs hundreds.
 *
 * The saved frame, from the saved stack pointer upwards (64 bytes):
 *     [mxcsr:32 fpucw:16 pad:16] r15 r14 r13 r12 rbx rbp return-address
 * A new context is such a frame whose return address is the trampoline and
 * whose r12/r13 hold the entry function and its argument.
 *
 * The switch leaves through 'pop; jmp' rather than 'ret'. A 'ret' here
 * always returns somewhere other than where the matching 'call' came from,
 * so the CPU's return-stack predictor misses on every switch; the indirect
 * jump is predicted from its own history instead. Measured on this
 * project's 2-core EPYC VM: 35 ns per resume+yield round trip with 'ret',
 * 14 ns with the jump (bench/bench_runtime). r8 is caller-saved, so it is
 * free to use at this point.
 *
 * Plain assembly rather than top-level asm in a .c file, so that the
 * symbols can be hidden (the library exports only GT_API names; these
 * must not be interposable through the .so) and the code can carry CFI.
 *
 * CFI. The switch describes its frame at every instruction. After the
 * stack pointer moves, the frame under it has the same shape, so the same
 * rules then describe the context being resumed: a profiler sampling
 * inside the switch unwinds into one caller or the other, never into
 * garbage. The trampoline is the first frame of every coroutine, and it
 * marks its return address undefined: that is DWARF's way to say "this is
 * the outermost frame", so gdb, perf and _Unwind_Backtrace stop there
 * cleanly instead of walking off the top of the coroutine's stack. The
 * saved rbp of a new context is 0 for the same reason, for unwinders that
 * follow frame pointers.
 *
 * CET. When built with -fcf-protection (as gcc does for C functions, and
 * only then: the 4-byte NOP measured 0.3 ns per round trip here, 2%),
 * endbr64 marks the places entered by an indirect branch: the three
 * functions (C code may take their addresses; the bench does) and the
 * trampoline (reached by the switch's 'jmp'). The switch's jump back into
 * its caller lands after a 'call', where no compiler puts an endbr64, so
 * that jump is 'notrack', as gcc's own jump tables are under
 * -fcf-protection (the prefix is free, so it is always there). This is
 * why the object then claims IBT in its GNU property note, and never
 * SHSTK: a shadow stack requires every 'ret' to match its 'call', and a
 * stack switch that returns into another context's caller breaks exactly
 * that. An object
 * without the SHSTK bit makes the linker drop it from the whole library,
 * so the dynamic loader will not enable shadow stacks for a process that
 * uses greentor -- the honest outcome until the switch also switches
 * shadow stacks. */

/* struct gt__ctx (runtime.h): the saved stack pointer is its first member,
 * the ucontext pointer its second. */
#define CTX_SP 0
#define CTX_UC 8

/* An indirect-branch landing pad, where IBT is asked for. */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

/* Defaults of a new context: all exceptions masked, round to nearest. */
#define MXCSR_DEFAULT 0x1f80
#define FPUCW_DEFAULT 0x037f

    .text

/* void gt__ctx_switch(gt__ctx *from, gt__ctx *to) */
    .globl gt__ctx_switch
    .hidden gt__ctx_switch
    .type gt__ctx_switch, @function
    .p2align 4
gt__ctx_switch:
    .cfi_startproc
    ENDBR
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, CTX_SP(%rdi)
    movq CTX_SP(%rsi), %rsp
    /* From here on the same CFI describes the resumed context's frame. */
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    popq %r8
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r8
    notrack jmpq *%r8            /* not 'ret': see above */
    .cfi_endproc
    .size gt__ctx_switch, .-gt__ctx_switch

/* First entry of a context: the switch "returns" here with r12 = entry,
 * r13 = arg and the stack 16-byte aligned, so the call leaves the entry
 * with the alignment the ABI promises. The entry never returns; ud2 makes
 * a bug there a clean SIGILL. */
    .globl gt__ctx_trampoline
    .hidden gt__ctx_trampoline
    .type gt__ctx_trampoline, @function
    .p2align 4
    .cfi_startproc
    .cfi_undefined %rip
    /* Unwinders look a return address up at address-1. This nop puts the
     * byte before the trampoline inside this FDE, so that even a sample
     * taken in the second half of a context's first switch, whose return
     * address is the trampoline itself, ends the walk here. */
    nop
gt__ctx_trampoline:
    ENDBR
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size gt__ctx_trampoline, .-gt__ctx_trampoline

/* void gt__ctx_init(gt__ctx *c, void *lo, size_t size,
 *                   void (*entry)(void *), void *arg)
 * rdi = c, rsi = lo, rdx = size, rcx = entry, r8 = arg. The return-address
 * slot sits 8 below a 16-byte boundary, so that after the switch pops it
 * the trampoline starts 16-byte aligned. */
    .globl gt__ctx_init
    .hidden gt__ctx_init
    .type gt__ctx_init, @function
    .p2align 4
gt__ctx_init:
    .cfi_startproc
    ENDBR
    leaq (%rsi,%rdx), %rax
    andq $-16, %rax                      /* top of the stack */
    leaq gt__ctx_trampoline(%rip), %r9
    movq %r9, -8(%rax)                   /* return address */
    movq $0, -16(%rax)                   /* rbp: ends frame-pointer walks */
    movq $0, -24(%rax)                   /* rbx */
    movq %rcx, -32(%rax)                 /* r12: entry */
    movq %r8, -40(%rax)                  /* r13: arg */
    movq $0, -48(%rax)                   /* r14 */
    movq $0, -56(%rax)                   /* r15 */
    movl $MXCSR_DEFAULT, -64(%rax)
    movl $FPUCW_DEFAULT, -60(%rax)       /* and the pad */
    subq $64, %rax
    movq %rax, CTX_SP(%rdi)
    movq $0, CTX_UC(%rdi)
    ret
    .cfi_endproc
    .size gt__ctx_init, .-gt__ctx_init

/* void gt__ctx_deinit(gt__ctx *c): nothing was allocated. */
    .globl gt__ctx_deinit
    .hidden gt__ctx_deinit
    .type gt__ctx_deinit, @function
    .p2align 4
gt__ctx_deinit:
    .cfi_startproc
    ENDBR
    ret
    .cfi_endproc
    .size gt__ctx_deinit, .-gt__ctx_deinit

/* With -fcf-protection=branch or =full (__CET__ bit 0), say IBT only; see
 * the header for why SHSTK is never claimed. */
#if defined(__CET__) && (__CET__ & 1)
    .section .note.gnu.property, "a"
    .p2align 3
    .long 4                 /* name size: "GNU\0" */
    .long 16                /* descriptor size */
    .long 5                 /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000002        /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long 4                 /* its size */
    .long 1                 /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .long 0                 /* pad to 8 */
#endif

/* The stack is never executable. */
    .section .note.GNU-stack, "", @progbits
