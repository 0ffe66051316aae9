#ifndef INFER_H
#define INFER_H
#include <stdint.h>
#define MODEL_INPUT_BYTES 32
#define MODEL_OUTPUTS 4
void model_infer(const int8_t *in, int8_t *out);
#endif
