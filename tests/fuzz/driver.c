/*
 * tests/fuzz/driver.c - a stand-in for libFuzzer's main, for compilers
 * without -fsanitize=fuzzer: runs each seed input, then random mutations
 * of them (bit flips, byte changes, inserts, deletes, duplicated ranges,
 * dictionary tokens) through LLVMFuzzerTestOneInput until -runs or
 * -max_total_time is reached. It takes the libFuzzer flags the ctest uses
 * (-seed_inputs=, -dict=, -runs=, -max_total_time=, -seed=) and ignores
 * the others. Not coverage-guided: a replay and random-input check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096
#define MAX_SEEDS 256
#define MAX_TOKENS 256

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob seeds[MAX_SEEDS], tokens[MAX_TOKENS];
static int nseeds, ntokens;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static size_t below(size_t n)
{
	return n ? (size_t)(next() % n) : 0;
}

static void load_seed(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f || nseeds == MAX_SEEDS) {
		fprintf(stderr, "driver: cannot use seed %s\n", path);
		exit(1);
	}
	uint8_t *p = malloc(MAX_INPUT);
	size_t n = fread(p, 1, MAX_INPUT, f);
	fclose(f);
	seeds[nseeds].p = p;
	seeds[nseeds++].n = n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* libFuzzer dictionary lines: name="value" with \\, \" and \xHH. */
static void load_dict(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "driver: cannot read %s\n", path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) && ntokens < MAX_TOKENS) {
		char *q = strchr(line, '"');
		if (line[0] == '#' || !q)
			continue;
		uint8_t *t = malloc(strlen(q) + 1);
		size_t n = 0;
		for (q++; *q && *q != '"'; q++) {
			if (*q == '\\' && q[1] == 'x' && hexval(q[2]) >= 0 &&
			    hexval(q[3]) >= 0) {
				t[n++] = (uint8_t)(hexval(q[2]) * 16 +
						   hexval(q[3]));
				q += 3;
			} else if (*q == '\\' && q[1]) {
				t[n++] = (uint8_t) * ++q;
			} else {
				t[n++] = (uint8_t)*q;
			}
		}
		tokens[ntokens].p = t;
		tokens[ntokens++].n = n;
	}
	fclose(f);
}

static size_t mutate(uint8_t *b, size_t n)
{
	int ops = 1 + (int)below(4);
	for (int i = 0; i < ops; i++) {
		size_t at = below(n + 1), len;
		switch (below(7)) {
		case 0: /* flip a bit */
			if (n)
				b[below(n)] ^= (uint8_t)(1u << below(8));
			break;
		case 1: /* set a byte */
			if (n)
				b[below(n)] = (uint8_t)next();
			break;
		case 2: /* insert a byte */
			if (n < MAX_INPUT) {
				memmove(b + at + 1, b + at, n - at);
				b[at] = (uint8_t)next();
				n++;
			}
			break;
		case 3: /* delete a range */
			if (n) {
				at = below(n);
				len = 1 + below(n - at);
				if (len > 16)
					len = 1 + below(16);
				memmove(b + at, b + at + len, n - at - len);
				n -= len;
			}
			break;
		case 4: /* duplicate a range */
			if (n) {
				static uint8_t tmp[MAX_INPUT];
				size_t from = below(n);
				len = 1 + below(n - from);
				if (n + len > MAX_INPUT)
					break;
				memcpy(tmp, b + from, len);
				memmove(b + at + len, b + at, n - at);
				memcpy(b + at, tmp, len);
				n += len;
			}
			break;
		case 5: /* insert a dictionary token */
			if (ntokens) {
				struct blob *t =
					&tokens[below((size_t)ntokens)];
				if (n + t->n > MAX_INPUT)
					break;
				memmove(b + at + t->n, b + at, n - at);
				memcpy(b + at, t->p, t->n);
				n += t->n;
			}
			break;
		default: /* truncate */
			n = below(n + 1);
			break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	long runs = 100000, max_time = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strncmp(a, "-runs=", 6)) {
			runs = atol(a + 6);
		} else if (!strncmp(a, "-max_total_time=", 16)) {
			max_time = atol(a + 16);
		} else if (!strncmp(a, "-seed=", 6)) {
			rng = (uint64_t)atoll(a + 6) | 1;
		} else if (!strncmp(a, "-dict=", 6)) {
			load_dict(a + 6);
		} else if (!strncmp(a, "-seed_inputs=", 13)) {
			char *list = strdup(a + 13);
			for (char *s = strtok(list, ","); s;
			     s = strtok(NULL, ","))
				load_seed(s);
			free(list);
		} else if (a[0] != '-') {
			load_seed(a);
		}
	}
	for (int i = 0; i < nseeds; i++)
		LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].n);

	uint8_t *b = malloc(MAX_INPUT);
	time_t end = time(NULL) + max_time;
	long done = 0;
	for (; done < runs && time(NULL) < end; done++) {
		size_t n;
		if (nseeds && below(8)) {
			struct blob *s = &seeds[below((size_t)nseeds)];
			memcpy(b, s->p, s->n);
			n = s->n;
		} else {
			n = below(256);
			for (size_t k = 0; k < n; k++)
				b[k] = (uint8_t)next();
		}
		n = mutate(b, n);
		/* an exact-size copy, so sanitizers catch over-reads */
		uint8_t *in = malloc(n ? n : 1);
		memcpy(in, b, n);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	printf("driver: %d seeds, %ld random runs, no failure\n", nseeds, done);
	free(b);
	for (int i = 0; i < nseeds; i++)
		free(seeds[i].p);
	for (int i = 0; i < ntokens; i++)
		free(tokens[i].p);
	return 0;
}
