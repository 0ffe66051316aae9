/* EEMBC EnergyRunner / MLPerf Tiny style DUT protocol over UART0 (performance mode).
 *
 * Host sends commands terminated by '%'; every reply is lines ("\r\n") starting "m-" (message)
 * or "e-" (error) and ends with "m-ready". Commands:
 *   name                -> m-name-dut-[...]
 *   profile             -> m-profile-[...], m-model-[...]
 *   timestamp           -> m-lap-us-<u32> and m-lap-ns-<u32>
 *   db load N           -> m-[Expecting N bytes]     (N must equal the model input size)
 *   db HEX              -> appends bytes; m-load-done once N bytes arrived
 *   db print            -> m-buffer-<hex>
 *   infer N W           -> W warm-up runs, then N timed runs bracketed by two timestamps
 *                          (m-lap-us/ns lines, both taken before either is printed), then
 *                          the results of the last run (m-results-[f,f,...])
 *   results             -> m-results-[...] of the last inference
 *   help                -> command list
 * "m-lap-ns-" is this fixture's extension to the EEMBC "m-lap-us-" timestamp: nanoseconds of
 * board time (mod 2^32) from the 25 MHz timer, 40 ns resolution.
 *
 * Build with -DFAULT_MUTE / -DFAULT_GARBAGE / -DFAULT_TRUNCATED for the rig's failure tests.
 */
#include <stdint.h>
#include "hal.h"
#include "infer.h"

#define CMD_SIZE 80

static int8_t input[MODEL_INPUT_BYTES];
static uint32_t expected_bytes, loaded_bytes;
static int8_t output[MODEL_OUTPUTS];
static int have_output;

static void put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    uart_puts(&buf[i]);
}

static void put_line(const char *s)
{
    uart_puts(s);
    uart_puts("\r\n");
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000u) return 0;
        v = v * 10 + (uint32_t)(*s - '0');
    }
    *out = v;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void timestamp_at(uint64_t t)
{
    uart_puts("m-lap-us-");
    put_u32((uint32_t)(t / (HAL_TIMER_HZ / 1000000u)));
    uart_puts("\r\nm-lap-ns-");
    put_u32((uint32_t)(t * (1000000000u / HAL_TIMER_HZ)));
    uart_puts("\r\n");
}

static void timestamp(void)
{
    timestamp_at(hal_ticks());
}

static void print_results(void)
{
    /* int8 logits shown as q/128 with three decimals (distinct int8 values stay distinct). */
    uart_puts("m-results-[");
    for (int k = 0; k < MODEL_OUTPUTS; k++) {
        int q = output[k];
        uint32_t a = (uint32_t)(q < 0 ? -q : q);
        uint32_t milli = (a * 1000u + 64u) / 128u;
        if (k) uart_putc(',');
        if (q < 0) uart_putc('-');
        put_u32(milli / 1000u);
        uart_putc('.');
        uart_putc((char)('0' + milli / 100u % 10u));
        uart_putc((char)('0' + milli / 10u % 10u));
        uart_putc((char)('0' + milli % 10u));
    }
    uart_puts("]\r\n");
}

static void cmd_db(char **argv, int argc)
{
    if (argc >= 3 && streq(argv[1], "load")) {
        uint32_t n;
        if (!parse_u32(argv[2], &n)) {
            put_line("e-[db load: bad byte count]");
        } else if (n != MODEL_INPUT_BYTES) {
            uart_puts("e-[db load: model takes ");
            put_u32(MODEL_INPUT_BYTES);
            put_line(" bytes]");
        } else {
            expected_bytes = n;
            loaded_bytes = 0;
            uart_puts("m-[Expecting ");
            put_u32(n);
            put_line(" bytes]");
        }
        return;
    }
    if (argc >= 2 && streq(argv[1], "print")) {
        uart_puts("m-buffer-");
        for (uint32_t i = 0; i < loaded_bytes; i++) {
            uart_putc("0123456789abcdef"[((uint8_t)input[i]) >> 4]);
            uart_putc("0123456789abcdef"[((uint8_t)input[i]) & 15]);
        }
        uart_puts("\r\n");
        return;
    }
    if (argc == 2) {
        const char *h = argv[1];
        while (h[0]) {
            int hi = hexval(h[0]), lo = h[1] ? hexval(h[1]) : -1;
            if (hi < 0 || lo < 0) {
                put_line("e-[db: invalid hex]");
                return;
            }
            if (loaded_bytes >= expected_bytes) {
                put_line("e-[db: more bytes than announced by db load]");
                return;
            }
            input[loaded_bytes++] = (int8_t)(hi << 4 | lo);
            h += 2;
        }
        if (expected_bytes && loaded_bytes == expected_bytes) put_line("m-load-done");
        return;
    }
    put_line("e-[db: usage db load N | db HEX | db print]");
}

static void cmd_infer(char **argv, int argc)
{
    uint32_t n = 1, w = 0;
    if ((argc >= 2 && !parse_u32(argv[1], &n)) || (argc >= 3 && !parse_u32(argv[2], &w)) || n == 0) {
        put_line("e-[infer: usage infer N W]");
        return;
    }
    if (!expected_bytes || loaded_bytes != expected_bytes) {
        put_line("e-[infer: input buffer not loaded]");
        return;
    }
#ifdef FAULT_GARBAGE
    uart_puts("m-warmup-start-0\r\nm-results-[0.12,0.\xff\xfe\x01zz\r\n");
    return;
#endif
#ifdef FAULT_TRUNCATED
    uart_puts("m-infer-start-1\r\nm-results-[0.1");
    for (;;) {}
#endif
    uart_puts("m-warmup-start-");
    put_u32(w);
    uart_puts("\r\n");
    for (uint32_t i = 0; i < w; i++) model_infer(input, output);
    put_line("m-warmup-done");
    uart_puts("m-infer-start-");
    put_u32(n);
    uart_puts("\r\n");
    /* Both timestamps are taken before either is printed, so the UART output is not timed. */
    uint64_t t0 = hal_ticks_restart();
    for (uint32_t i = 0; i < n; i++) model_infer(input, output);
    uint64_t t1 = hal_ticks();
    timestamp_at(t0);
    timestamp_at(t1);
    put_line("m-infer-done");
    have_output = 1;
    print_results();
}

static void dispatch(char *cmd)
{
    char *argv[6];
    int argc = 0;
    char *p = cmd;
    while (*p && argc < 6) {
        while (*p == ' ') *p++ = 0;
        if (!*p) break;
        argv[argc++] = p;
        while (*p && *p != ' ') p++;
    }
    if (argc == 0) {
        /* empty command: just m-ready */
    } else if (streq(argv[0], "name")) {
        put_line("m-name-dut-[reproreview-mps2-an386-fixture]");
    } else if (streq(argv[0], "profile")) {
        put_line("m-profile-[ReproReview MCU fixture 1.0]");
        put_line("m-model-[mlp-int8-32x16x4]");
    } else if (streq(argv[0], "timestamp")) {
        timestamp();
    } else if (streq(argv[0], "db")) {
        cmd_db(argv, argc);
    } else if (streq(argv[0], "infer")) {
        cmd_infer(argv, argc);
    } else if (streq(argv[0], "results")) {
        if (have_output) print_results();
        else put_line("e-[results: no inference yet]");
    } else if (streq(argv[0], "help")) {
        put_line("m-help-[name profile timestamp db infer results help]");
    } else {
        uart_puts("e-[Unknown command: ");
        uart_puts(argv[0]);
        put_line("]");
    }
    put_line("m-ready");
}

int main(void)
{
    static char cmd[CMD_SIZE + 1];
    uint32_t len = 0;
    int overflow = 0;

    hal_init();
#ifdef FAULT_MUTE
    for (;;) (void)uart_getc(); /* swallows everything, never answers */
#endif
    put_line("m-timestamp-mode-performance");
    put_line("m-init-done");
    put_line("m-ready");
    for (;;) {
        char c = (char)uart_getc();
        if (c == '%') {
            cmd[len] = 0;
            if (overflow) {
                put_line("e-[Command too long]");
                put_line("m-ready");
            } else {
                dispatch(cmd);
            }
            len = 0;
            overflow = 0;
        } else if (c == '\r' || c == '\n') {
            /* ignored */
        } else if (len < CMD_SIZE) {
            cmd[len++] = c;
        } else {
            overflow = 1;
        }
    }
}
