/*
 * fuzz_config_alias.c - libFuzzer target for the bounds on cog.yaml
 * aliasing and nesting (SPEC.md §15).
 *
 * Any input must be accepted or rejected cleanly, and what an accepted
 * document yields must stay within what the alias rule allows: the bytes
 * of every string of the configuration (each alias copied), at most the
 * most yaml.v3's ratio lets alias expansion add (about 1.2 million
 * operations) plus a multiple of the input. A refusal names the file.
 */
#include "weightslock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t strings_bytes(const wl_config *config)
{
	size_t total = 0;
	for (size_t i = 0; i < config->weight_count; i++) {
		const wl_config_weight *w = &config->weights[i];
		total += w->name.len + w->target.len;
		for (size_t s = 0; s < w->source_count; s++) {
			const wl_source *src = &w->sources[s];
			total += src->uri.len;
			for (size_t k = 0; k < src->include_count; k++)
				total += src->include[k].len;
			for (size_t k = 0; k < src->exclude_count; k++)
				total += src->exclude[k].len;
		}
	}
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wl_config *config = NULL;
	if (wl_config_parse(&config, data, size, "cog.yaml") != 0) {
		const char *msg = wl_error_last()->message;
		if (strncmp(msg, "cog.yaml: ", 10) != 0 && strcmp(msg, "out of memory") != 0) {
			fprintf(stderr, "refusal without the file named: %s\n", msg);
			abort();
		}
		return 0;
	}
	size_t bytes = strings_bytes(config);
	if (bytes > 1300000 + 2 * size) {
		fprintf(stderr, "%zu bytes of strings from %zu bytes of YAML\n", bytes, size);
		abort();
	}
	wl_config_free(config);
	return 0;
}
