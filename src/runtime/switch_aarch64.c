/* runtime/switch_aarch64.c -- context switch for AArch64 (AAPCS64).
 *
 * Saves only the callee-saved state: x19-x28, the frame pointer x29, the
 * link register x30, the low halves d8-d15 of v8-v15, FPCR and the stack
 * pointer. The 176-byte frame, from the saved stack pointer upwards:
 *     x19 x20 ... x28 x29 x30 d8 ... d15 fpcr pad
 * A new context is such a frame whose x30 is a trampoline and whose x19/x20
 * hold the entry function and its argument. */
#include <stdint.h>
#include <string.h>

#include "runtime.h"

void gt__ctx_trampoline(void);

__asm__(".text\n"
        ".globl gt__ctx_switch\n"
        ".type gt__ctx_switch,%function\n"
        "gt__ctx_switch:\n"
        "    sub sp, sp, #176\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mrs x9, fpcr\n"
        "    str x9, [sp, #160]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    ldr x9, [x1]\n"
        "    mov sp, x9\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldr x9, [sp, #160]\n"
        "    msr fpcr, x9\n"
        "    add sp, sp, #176\n"
        "    ret\n"
        ".size gt__ctx_switch, .-gt__ctx_switch\n"
        ".globl gt__ctx_trampoline\n"
        ".type gt__ctx_trampoline,%function\n"
        "gt__ctx_trampoline:\n"
        "    mov x0, x20\n"
        "    blr x19\n"
        "    brk #0\n"
        ".size gt__ctx_trampoline, .-gt__ctx_trampoline\n");

void gt__ctx_init(gt__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 176);

    memset(frame, 0, 176);
    frame[0] = (uint64_t)(uintptr_t)entry;              /* x19 */
    frame[1] = (uint64_t)(uintptr_t)arg;                /* x20 */
    frame[11] = (uint64_t)(uintptr_t)gt__ctx_trampoline; /* x30 */
    c->sp = frame;
    c->uc = NULL;
}

void gt__ctx_deinit(gt__ctx *c)
{
    (void)c;
}
