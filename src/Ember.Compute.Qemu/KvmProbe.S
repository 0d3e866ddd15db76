# KVM probe boot sector (see QemuDriver.Accelerator.cs, docs/qemu.md). Build:
#   as --32 -o p.o KvmProbe.S && objcopy -O binary -j .text p.o p.bin
# SeaBIOS loads it at 0x7c00; it enters 32-bit protected mode, executes an iretl (the
# instruction a broken nested KVM cannot emulate while booting syslinux) and prints
# EMBER-KVM-OK on the debug port 0x402.
.code16
.org 0
start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    lgdtl gdtr - start + 0x7c00
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $(pm - start + 0x7c00)
.code32
pm:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7000, %esp
    pushfl
    push %cs
    push $(after - start + 0x7c00)
    iretl
after:
    mov $0x402, %dx
    mov $(msg - start + 0x7c00), %esi
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  hlt
    jmp 2b
msg: .asciz "EMBER-KVM-OK\n"
.align 8
gdt: .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
gdtr: .word 23
    .long gdt - start + 0x7c00
.org 510
.byte 0x55, 0xaa
