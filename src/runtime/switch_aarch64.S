/* runtime/switch_aarch64.S -- context switch for AArch64 (AAPCS64).
 *
 * Saves only the callee-saved state: x19-x28, the frame pointer x29, the
 * link register x30, the low halves d8-d15 of v8-v15, FPCR and the stack
 * pointer. Everything else the C compiler has already spilled around the
 * call. FPCR holds the rounding mode and flush-to-zero bit, which C code
 * may change with fesetround() and expects to keep across a yield. The
 * 176-byte frame, from the saved stack pointer upwards:
 *     x19 x20 ... x28 x29 x30 d8 ... d15 fpcr pad
 * A new context is such a frame whose x30 is the trampoline and whose
 * x19/x20 hold the entry function and its argument; everything else in it
 * is zero (FPCR 0: round to nearest, no flush to zero).
 *
 * Plain assembly, so that the symbols can be hidden (the library exports
 * only GT_API names) and the code can carry CFI. The switch describes its
 * frame at every instruction; after sp moves, the frame under it has the
 * same shape, so the same rules then describe the context being resumed.
 * The trampoline, the first frame of every coroutine, marks its return
 * address (x30) undefined, DWARF's "outermost frame", so gdb, perf and
 * _Unwind_Backtrace stop there instead of walking off the stack; its x29
 * is 0 for unwinders that follow frame records.
 *
 * Branch protection, the AArch64 counterpart of CET. Built with
 * -mbranch-protection=bti or =standard (and only then, as gcc does for C
 * functions), the functions begin with 'bti c' (written as its hint
 * number, which older assemblers and pre-v8.5 cores treat as a NOP),
 * because C code may call them through a pointer. The switch leaves through 'ret', which BTI does not check, so
 * the resumed code needs no landing pad. Pointer authentication is left to
 * the callers: each signs and checks its own x30 in its own frame, on its
 * own stack, and the switch saves the plain return address it was given.
 * Hence the object claims BTI in its GNU property note when the compiler
 * was asked for it, and never GCS (the guarded control stack, AArch64's
 * shadow stack), which a switch between stacks like this one breaks. */

#define CTX_SP 0        /* struct gt__ctx (runtime.h): sp, then uc */
#define CTX_UC 8
#define FRAME 176

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
#define BTI_C hint #34
#else
#define BTI_C
#endif

    .text

/* void gt__ctx_switch(gt__ctx *from, gt__ctx *to) */
    .globl gt__ctx_switch
    .hidden gt__ctx_switch
    .type gt__ctx_switch, %function
    .p2align 4
gt__ctx_switch:
    .cfi_startproc
    BTI_C
    sub sp, sp, #FRAME
    .cfi_def_cfa_offset FRAME
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    .cfi_rel_offset x19, 0
    .cfi_rel_offset x20, 8
    .cfi_rel_offset x21, 16
    .cfi_rel_offset x22, 24
    .cfi_rel_offset x23, 32
    .cfi_rel_offset x24, 40
    .cfi_rel_offset x25, 48
    .cfi_rel_offset x26, 56
    .cfi_rel_offset x27, 64
    .cfi_rel_offset x28, 72
    .cfi_rel_offset x29, 80
    .cfi_rel_offset x30, 88
    .cfi_rel_offset d8, 96
    .cfi_rel_offset d9, 104
    .cfi_rel_offset d10, 112
    .cfi_rel_offset d11, 120
    .cfi_rel_offset d12, 128
    .cfi_rel_offset d13, 136
    .cfi_rel_offset d14, 144
    .cfi_rel_offset d15, 152
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0, #CTX_SP]
    ldr x9, [x1, #CTX_SP]
    mov sp, x9
    /* From here on the same CFI describes the resumed context's frame. */
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #FRAME
    .cfi_def_cfa_offset 0
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    ret
    .cfi_endproc
    .size gt__ctx_switch, .-gt__ctx_switch

/* First entry of a context: the switch returns here with x19 = entry and
 * x20 = arg. The entry never returns; brk makes a bug there a clean
 * SIGTRAP. */
    .globl gt__ctx_trampoline
    .hidden gt__ctx_trampoline
    .type gt__ctx_trampoline, %function
    .p2align 4
    .cfi_startproc
    .cfi_undefined x30
    /* Unwinders look a return address up at address-1 (a sample in the
     * second half of a context's first switch has the trampoline itself
     * as its return address): this nop keeps that byte inside this FDE. */
    nop
gt__ctx_trampoline:
    BTI_C
    mov x0, x20
    blr x19
    brk #0
    .cfi_endproc
    .size gt__ctx_trampoline, .-gt__ctx_trampoline

/* void gt__ctx_init(gt__ctx *c, void *lo, size_t size,
 *                   void (*entry)(void *), void *arg)
 * x0 = c, x1 = lo, x2 = size, x3 = entry, x4 = arg. */
    .globl gt__ctx_init
    .hidden gt__ctx_init
    .type gt__ctx_init, %function
    .p2align 4
gt__ctx_init:
    .cfi_startproc
    BTI_C
    add x9, x1, x2
    and x9, x9, #~15                    /* top of the stack, aligned */
    sub x9, x9, #FRAME
    stp x3, x4, [x9, #0]                /* x19: entry, x20: arg */
    stp xzr, xzr, [x9, #16]
    stp xzr, xzr, [x9, #32]
    stp xzr, xzr, [x9, #48]
    stp xzr, xzr, [x9, #64]
    adr x10, gt__ctx_trampoline
    stp xzr, x10, [x9, #80]             /* x29: 0, x30: trampoline */
    stp xzr, xzr, [x9, #96]
    stp xzr, xzr, [x9, #112]
    stp xzr, xzr, [x9, #128]
    stp xzr, xzr, [x9, #144]
    stp xzr, xzr, [x9, #160]            /* fpcr, pad */
    str x9, [x0, #CTX_SP]
    str xzr, [x0, #CTX_UC]
    ret
    .cfi_endproc
    .size gt__ctx_init, .-gt__ctx_init

/* void gt__ctx_deinit(gt__ctx *c): nothing was allocated. */
    .globl gt__ctx_deinit
    .hidden gt__ctx_deinit
    .type gt__ctx_deinit, %function
    .p2align 4
gt__ctx_deinit:
    .cfi_startproc
    BTI_C
    ret
    .cfi_endproc
    .size gt__ctx_deinit, .-gt__ctx_deinit

/* With -mbranch-protection=bti or =standard, say BTI only (see above). */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
    .section .note.gnu.property, "a"
    .p2align 3
    .long 4                 /* name size: "GNU\0" */
    .long 16                /* descriptor size */
    .long 5                 /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000000        /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long 4                 /* its size */
    .long 1                 /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .long 0                 /* pad to 8 */
#endif

/* The stack is never executable. */
    .section .note.GNU-stack, "", %progbits
