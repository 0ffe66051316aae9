/* int8 MLP inference, bit-exact with make_model.int8_forward. */
#include "model.h"
#include "infer.h"

static int32_t requant(int32_t acc, int32_t m, int32_t lo, int32_t hi)
{
    int64_t v = ((int64_t)acc * m + ((int64_t)1 << (REQ_SHIFT - 1))) >> REQ_SHIFT;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (int32_t)v;
}

void model_infer(const int8_t *in, int8_t *out)
{
    int8_t hidden[N_HID];
    for (int j = 0; j < N_HID; j++) {
        int32_t acc = B1[j];
        for (int i = 0; i < N_IN; i++) acc += (int32_t)W1[j][i] * in[i];
        hidden[j] = (int8_t)requant(acc, REQ_M1, 0, 127);
    }
    for (int k = 0; k < N_OUT; k++) {
        int32_t acc = B2[k];
        for (int j = 0; j < N_HID; j++) acc += (int32_t)W2[k][j] * hidden[j];
        out[k] = (int8_t)requant(acc, REQ_M2, -128, 127);
    }
}
