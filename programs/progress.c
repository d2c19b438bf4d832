/*
 * progress.c - one progress line on stderr, redrawn in place, while a long
 * operation runs: files and bytes done, rate and time left for hashing,
 * layers for packing. Only on a terminal, and never with -q.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const cli_invocation *cli)
{
	memset(p, 0, sizeof *p);
	p->enabled = !cli->quiet && isatty(STDERR_FILENO);
	p->phase = -1;
}

static void human_bytes(char *out, size_t cap, double n)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (n >= 1024 && u < 4) {
		n /= 1024;
		u++;
	}
	snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
}

void cli_progress_report(void *ctx, const wl_progress *progress)
{
	cli_progress *p = ctx;
	if (!p->enabled)
		return;
	double now = monotonic();
	if ((int)progress->phase != p->phase) {
		if (p->drawn)
			(void)cli_write_all(STDERR_FILENO, "\n", 1);
		p->drawn = false;
		p->phase = (int)progress->phase;
		p->started = now;
	} else if (now - p->last_draw < 0.1 && progress->items_done < progress->items_total) {
		return;
	}
	p->last_draw = now;
	char line[256];
	const char *weight = progress->weight ? progress->weight : "";
	switch (progress->phase) {
	case WL_PHASE_WALK:
		snprintf(line, sizeof line, "%s: listing files", weight);
		break;
	case WL_PHASE_HASH:
	case WL_PHASE_FETCH: {
		char done[32], total[32], rate[32];
		human_bytes(done, sizeof done, (double)progress->bytes_done);
		human_bytes(total, sizeof total, (double)progress->bytes_total);
		double elapsed = now - p->started;
		double bps = elapsed > 0 ? (double)progress->bytes_done / elapsed : 0;
		human_bytes(rate, sizeof rate, bps);
		double left = bps > 0 ? ((double)progress->bytes_total - (double)progress->bytes_done) / bps : 0;
		snprintf(line, sizeof line, "%s: %s %llu/%llu files, %s/%s, %s/s, %.0fs left", weight,
		         progress->phase == WL_PHASE_FETCH ? "fetched" : "hashed",
		         (unsigned long long)progress->items_done, (unsigned long long)progress->items_total,
		         done, total, rate, left);
		break;
	}
	case WL_PHASE_EXTRACT:
	case WL_PHASE_VERIFY: {
		char done[32], total[32];
		human_bytes(done, sizeof done, (double)progress->bytes_done);
		human_bytes(total, sizeof total, (double)progress->bytes_total);
		snprintf(line, sizeof line, "%s: %s %llu/%llu %s, %s/%s", weight,
		         progress->phase == WL_PHASE_EXTRACT ? "extracted" : "verified",
		         (unsigned long long)progress->items_done, (unsigned long long)progress->items_total,
		         progress->phase == WL_PHASE_EXTRACT ? "layers" : "files", done, total);
		break;
	}
	case WL_PHASE_PACK:
		snprintf(line, sizeof line, "%s: packed %llu/%llu layers", weight,
		         (unsigned long long)progress->items_done, (unsigned long long)progress->items_total);
		break;
	default:
		return;
	}
	char out[300];
	int n = snprintf(out, sizeof out, "\r%-79.200s", line);
	if (n > 0)
		(void)cli_write_all(STDERR_FILENO, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
	p->drawn = true;
}

void cli_progress_done(cli_progress *p)
{
	if (p->enabled && p->drawn)
		(void)cli_write_all(STDERR_FILENO, "\n", 1);
	p->drawn = false;
	p->phase = -1;
}
