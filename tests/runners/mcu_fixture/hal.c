#include "hal.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA REG(UART0_BASE + 0x00)
#define UART_STATE REG(UART0_BASE + 0x04) /* bit0 TX full, bit1 RX full */
#define UART_CTRL REG(UART0_BASE + 0x08)  /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV REG(UART0_BASE + 0x10)

/* CMSDK APB TIMER0: 32-bit down-counter */
#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL REG(TIMER0_BASE + 0x00)
#define TIMER_VALUE REG(TIMER0_BASE + 0x04)
#define TIMER_RELOAD REG(TIMER0_BASE + 0x08)

static uint32_t last_value;
static uint64_t ticks_high; /* elapsed ticks before last_value was read */

void hal_init(void)
{
    UART_BAUDDIV = HAL_TIMER_HZ / 115200u;
    UART_CTRL = 0x3;
    /* Dummy read of DATA: QEMU's CMSDK UART stops taking host bytes that arrived while RX was
     * disabled until the guest reads DATA (that read re-arms its chardev input). */
    (void)UART_DATA;
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 0x1;
    last_value = 0xFFFFFFFFu;
    ticks_high = 0;
}

uint64_t hal_ticks(void)
{
    /* Extend the 32-bit down-counter to 64 bits; called from the UART poll loop too, so it
     * never goes a full wrap (171 s at 25 MHz) without being read. */
    uint32_t v = TIMER_VALUE;
    ticks_high += (uint32_t)(last_value - v);
    last_value = v;
    return ticks_high;
}

uint64_t hal_ticks_restart(void)
{
    /* Same as hal_ticks(), but also reloads the counter, so the next hal_ticks() difference is
     * floor(elapsed time / tick) measured from this very instruction (no phase left over from
     * before: under QEMU -icount that makes the difference a function of the instruction count
     * alone, independent of how long the firmware idled waiting for the host). */
    uint64_t t = hal_ticks();
    TIMER_VALUE = 0xFFFFFFFFu;
    last_value = 0xFFFFFFFFu;
    return t;
}

void uart_putc(char c)
{
    while (UART_STATE & 0x1) {}
    UART_DATA = (uint32_t)(unsigned char)c;
}

void uart_puts(const char *s)
{
    while (*s) uart_putc(*s++);
}

int uart_getc(void)
{
    while (!(UART_STATE & 0x2)) (void)hal_ticks();
    return (int)(UART_DATA & 0xFF);
}
