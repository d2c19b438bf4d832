/*
 * fuzz_config.c - libFuzzer target for the cog.yaml `weights:` reader.
 *
 * Any input must be accepted or rejected cleanly; on acceptance, every
 * declared weight's normalized URI must normalize to itself, and drift
 * against an empty lockfile must run.
 */
#include "weightslock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wl_config *config = NULL;
	if (wl_config_parse(&config, data, size, "cog.yaml") != 0)
		return 0;
	for (size_t i = 0; i < config->weight_count; i++) {
		const wl_config_weight *w = &config->weights[i];
		for (size_t s = 0; s < w->source_count; s++) {
			char *again = NULL;
			size_t len = 0;
			if (wl_normalize_uri(&again, &len, w->sources[s].uri) != 0)
				continue;
			if (len != w->sources[s].uri.len ||
			    (len && memcmp(again, w->sources[s].uri.ptr, len) != 0)) {
				fprintf(stderr, "normalized URI is not a fixed point: %s -> %s\n",
				        w->sources[s].uri.ptr, again);
				abort();
			}
			wl_free(again);
		}
	}
	wl_drift_result *results = NULL;
	size_t count = 0;
	if (wl_check_drift(&results, &count, NULL, config) == 0)
		wl_drift_results_free(results, count);
	wl_config_free(config);
	return 0;
}
