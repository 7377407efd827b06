/* tests/fuzz/probe.c - configure-time check that the compiler can link a
 * libFuzzer target. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return size && data[0] == 0xff;
}
