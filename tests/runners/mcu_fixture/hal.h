/* Board layer for the MPS2 AN386: CMSDK APB UART0 and CMSDK APB TIMER0 (both on the 25 MHz
 * peripheral clock). Swap this file (and hal.c) to port the fixture to another board. */
#ifndef HAL_H
#define HAL_H
#include <stdint.h>

#define HAL_TIMER_HZ 25000000u

void hal_init(void);
void uart_putc(char c);
void uart_puts(const char *s);
int uart_getc(void);                /* blocks */
uint64_t hal_ticks(void);           /* free-running 64-bit tick count at HAL_TIMER_HZ */
uint64_t hal_ticks_restart(void);   /* hal_ticks(), then restart the counter's tick phase */
#endif
