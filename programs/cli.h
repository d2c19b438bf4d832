/*
 * cli.h - what the command modules of the weightslock program share: the
 * parsed invocation, the option and command tables, and output helpers.
 *
 * The program is a thin client of weightslock.h. Commands return an exit
 * status (0, 1 or 2, see CLI.md) instead of calling exit(), so every
 * allocation is released on every path.
 */
#ifndef WL_CLI_H
#define WL_CLI_H

#include "weightslock.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

enum {
	EXIT_OK = 0,
	EXIT_FOUND = 1, /* ran, and found what it was asked to look for */
	EXIT_ERROR = 2,
	EXIT_EXEC_FAILED = 127,
};

/* ---- commands and options (options.c) ---- */

/** One bit per command, to say which commands accept an option. */
enum {
	CMD_FMT = 1u << 0,
	CMD_CHECK = 1u << 1,
	CMD_SHOW = 1u << 2,
	CMD_RUNTIME_MANIFEST = 1u << 3,
	CMD_MANIFEST = 1u << 4,
	CMD_DRIFT = 1u << 5,
	CMD_PRUNE = 1u << 6,
	CMD_WITH_LOCK = 1u << 7,
	CMD_VERSION = 1u << 8,
	CMD_HELP = 1u << 9,
	CMD_DIGEST = 1u << 10,
	CMD_IMPORT = 1u << 11,
	CMD_VERIFY = 1u << 12,
	CMD_EXTRACT = 1u << 13,
	CMD_DIFF = 1u << 14,
	CMD_MERGE_DRIVER = 1u << 16,
	CMD_INSTALL_GIT = 1u << 17,
	CMD_CONVERT = 1u << 18,
	CMD_PUSH = 1u << 19,
	CMD_PULL = 1u << 21,
	CMD_STATUS = 1u << 20,
	CMD_GLOBAL = 1u << 15, /* accepted before the command and by every command */
};

typedef enum cli_option_id {
	OPT_CHDIR,
	OPT_CONFIG,
	OPT_LOCK,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_CHECK,
	OPT_STDOUT,
	OPT_JSON,
	OPT_OUTPUT,
	OPT_CONFIG_BLOB,
	OPT_KEEP,
	OPT_TIMEOUT,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_LIST,
	OPT_DRY_RUN,
	OPT_REPACK,
	OPT_OCI_LAYOUT,
	OPT_NO_CACHE,
	OPT_CACHE_DIR,
	OPT_BUNDLE_FILE_MAX,
	OPT_BUNDLE_SIZE_MAX,
	OPT_JOBS,
	OPT_SIZES_ONLY,
	OPT_FORCE,
	OPT_STORE,
	OPT_CACERT,
	OPT_GIT,
	OPT_GLOBAL_CONFIG,
	OPT_TO,
	OPT_REPOSITORY,
	OPT_PLAIN_HTTP,
	OPT_AUTHFILE,
	OPT_RETRIES,
	OPT_REGISTRY,
	OPT_MOUNT_FROM,
} cli_option_id;

/** One command-line option: the parser and --help both read this. */
typedef struct cli_option {
	cli_option_id id;
	char short_name;        /* 0: none */
	const char *long_name;  /* without "--"; NULL: none */
	const char *arg;        /* name of its value, NULL for a flag */
	unsigned commands;      /* CMD_* bits */
	const char *help;       /* one line */
} cli_option;

struct cli_invocation;
typedef int (*cli_run_fn)(struct cli_invocation *cli);

typedef struct cli_command {
	const char *name;
	unsigned bit;
	const char *operands; /* synopsis after the options, e.g. "[LOCKFILE]" */
	const char *summary;  /* one line for the command list */
	const char *details;  /* paragraphs for `COMMAND --help`, lines end in \n */
	cli_run_fn run;
} cli_command;

extern const cli_option cli_options[];
extern const size_t cli_option_count;
extern const cli_command cli_commands[];
extern const size_t cli_command_count;

const cli_command *cli_find_command(const char *name);

/** The parsed invocation. Strings point into argv. */
typedef struct cli_invocation {
	const cli_command *command;
	const char **chdirs; /* every -C DIR, applied in order */
	size_t chdir_count;
	const char *config_path; /* -f; NULL: "cog.yaml" */
	const char *lock_path;   /* --lock; NULL: "weights.lock" */
	bool quiet;
	bool verbose;
	bool check;
	bool to_stdout;
	bool json;
	bool config_blob;
	const char *output; /* -o FILE */
	const char **keep;  /* every --keep NAME */
	size_t keep_count;
	double timeout; /* < 0: wait forever */
	const char *store;  /* --store DIR */
	const char *cacert; /* --cacert FILE */
	const char **include; /* every --include PATTERN */
	size_t include_count;
	const char **exclude; /* every --exclude PATTERN */
	size_t exclude_count;
	bool list;
	bool dry_run;
	bool repack;
	const char *oci_layout;
	bool no_cache;
	const char *cache_dir;
	int64_t bundle_file_max; /* 0: the default */
	int64_t bundle_size_max;
	int jobs;                /* 0: one per CPU */
	bool sizes_only;
	bool force;         /* verify: compare sizes only */
	bool git_driver;    /* diff: git's diff-driver arguments */
	bool global_config; /* install-git: the user's git config */
	const char *to_shape; /* convert: "single" or "multi" */
	const char *repository; /* registry commands: --repository REF */
	bool plain_http;
	const char *authfile;
	int retries;            /* -1: the default */
	const char *registry;   /* extract: --registry REPOSITORY */
	const char *mount_from; /* push: --mount-from REPO */
	const char **operands;
	size_t operand_count;
	char **exec_argv; /* with-lock: the words after "--", NULL-terminated */
	size_t exec_argc;
	bool saw_dashdash;
} cli_invocation;

/**
 * Parses argv (global options, the command, its options and operands).
 * Returns -1 when parsing succeeded and the command should run, otherwise
 * the exit status to end with (0 after printing help, 2 on bad usage).
 */
int cli_parse(cli_invocation *cli, int argc, char **argv);
void cli_release(cli_invocation *cli);

/** Prints the list of commands (weightslock --help) to stdout. */
int cli_print_main_help(void);
/** Prints the help of one command to stdout. */
int cli_print_command_help(const cli_command *command);

/* ---- messages and output (output.c) ---- */

/** Prints "weightslock: <message>" and one newline on stderr, with control
 *  characters escaped so the message stays on one line. Returns 2. */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/** The library's last error as a cli_error. */
int cli_lib_error(int code);
/** The library's last error, prefixed with "FILE: " unless the message
 *  already names FILE. */
int cli_lib_error_in(const char *file, int code);
/** A usage error: the message and a hint to run `--help`. Returns 2. */
int cli_usage_error(const cli_command *command, const char *fmt, ...) CLI_PRINTF(2, 3);
/** An informational line on stderr (nothing when quiet). */
void cli_note(const cli_invocation *cli, const char *fmt, ...) CLI_PRINTF(2, 3);
/** "weightslock: warning: ..." on stderr, whatever -q says: something the
 *  user must know even in a quiet run. */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);

/** A growable byte buffer for output built in memory. */
typedef struct cli_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
} cli_buf;

void cli_buf_put(cli_buf *b, const void *p, size_t n);
void cli_buf_puts(cli_buf *b, const char *s);
void cli_buf_printf(cli_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
void cli_buf_release(cli_buf *b);

/** Appends `s` as a JSON string (quotes included); invalid UTF-8 becomes
 *  U+FFFD, as JSON text must be UTF-8. */
void cli_buf_json_string(cli_buf *b, wl_string s);
/** Appends `s` as is when it is plain printable text, else quoted as Go's
 *  %q would (wl_quote). */
void cli_buf_human(cli_buf *b, wl_string s);
/** Appends `s` quoted as Go's %q (wl_quote). */
void cli_buf_quoted(cli_buf *b, wl_string s);
/** Appends a C string with control characters escaped (\n, \xHH), so it
 *  stays on one line. */
void cli_buf_text(cli_buf *b, const char *text);
/** Appends a size in bytes in human units ("150 bytes", "3.28 KiB"); with
 *  `exact`, a size of 1 KiB or more also gets " (N bytes)". */
void cli_buf_size(cli_buf *b, int64_t v, bool exact);
/** Appends a pattern list as "[a b c]", each item as cli_buf_human does. */
void cli_buf_patterns(cli_buf *b, const wl_string *items, size_t count);
/** True when `s` is non-empty, valid UTF-8 and holds no control character. */
bool cli_plain_text(wl_string s);

/** Writes all of `n` bytes to `fd`, retrying partial writes and EINTR.
 *  Returns 0 or an errno value. */
int cli_write_all(int fd, const void *p, size_t n);
/** Writes the buffer to stdout; on failure prints the error. Returns 0 or 2. */
int cli_flush_stdout(cli_buf *b);
/** Writes bytes to stdout; on failure prints the error. Returns 0 or 2. */
int cli_write_stdout(const void *p, size_t n);

/**
 * Reads a whole document ("-": standard input) into a malloc'd buffer, as
 * wl_read_file / wl_read_fd do (a regular file, at most `max_size` bytes
 * when > 0). Returns 0, or the error code with the message in *errbuf
 * ("read PATH: ...").
 */
int cli_read_file(char **out, size_t *out_len, const char *path, int64_t max_size, char *errbuf,
                  size_t errlen);

/* ---- the lockfile and project paths (project.c) ---- */

/** The lockfile named by --lock, or weights.lock in the project directory. */
const char *cli_lock_path(const cli_invocation *cli);
/** The cog.yaml named by -f, or cog.yaml in the project directory. */
const char *cli_config_path(const cli_invocation *cli);
/** Display name of a lockfile path in messages ("<stdin>" for "-"). */
const char *cli_display_name(const char *path);

/** Loads a lockfile; "-" reads stdin. On failure prints the error and
 *  returns 2 (WL_ENOTFOUND is an error too). */
int cli_load_lock(wl_lock **out, const char *path);

/** Loads a lockfile that may be missing (*out == NULL then). On failure
 *  prints the error and returns 2. */
int cli_load_optional_lock(wl_lock **out, const char *path);
/** Loads the cog.yaml of cli_config_path. On failure (also when it does
 *  not exist) prints the error and returns 2. */
int cli_load_config(wl_config **out, const cli_invocation *cli);

/** Set by SIGINT/SIGTERM while cli_install_cancel_handlers is in effect. */
extern volatile sig_atomic_t cli_cancel;
/** Installs SIGINT/SIGTERM handlers that set cli_cancel. */
void cli_install_cancel_handlers(void);

/** Takes the guard lock of `lockfile` (cli->timeout, cancelled by
 *  SIGINT/SIGTERM). On failure prints the error and returns 2. */
int cli_acquire_guard(wl_guard **out, const cli_invocation *cli, const char *lockfile);
/** Releases the guard; returns 0, or 2 after printing the error. */
int cli_release_guard(wl_guard *guard);

/* ---- the commands ---- */

int cmd_fmt(cli_invocation *cli);
int cmd_check(cli_invocation *cli);
int cmd_show(cli_invocation *cli);
int cmd_runtime_manifest(cli_invocation *cli);
int cmd_manifest(cli_invocation *cli);
int cmd_drift(cli_invocation *cli);
int cmd_prune(cli_invocation *cli);
int cmd_with_lock(cli_invocation *cli);
int cmd_push(cli_invocation *cli);
int cmd_pull(cli_invocation *cli);
/** The content store's directory (SPEC.md §17): --store, else
 *  $COG_CACHE_DIR/weights, ...; malloc'd, NULL when none can be named. */
char *cli_store_dir(const cli_invocation *cli);
/** The directory holding cog.yaml (relative sources resolve against it);
 *  malloc'd. */
char *cli_project_dir(const char *config_path);

/** Registry options from the invocation, for `repository`; the
 *  credentials files found in the environment are held here. */
typedef struct cli_registry {
	wl_registry_options opts;
	char *auth_paths[6];
	size_t auth_count;
	const cli_invocation *cli; /* for the library's notices (opts.notice_ctx is this struct) */
	char origin[300];          /* where the repository came from: "--repository", "cog.yaml: image:" */
} cli_registry;
void cli_registry_init(cli_registry *r, const cli_invocation *cli, const char *repository);
/** A registry operation's error: a repository reference the grammar
 *  refuses is reported with where it came from, anything else as
 *  cli_lib_error. Returns 2. */
int cli_registry_error(const cli_registry *r, int code);
void cli_registry_release(cli_registry *r);
int cmd_status(cli_invocation *cli);
int cmd_version(cli_invocation *cli);
int cmd_digest(cli_invocation *cli);
int cmd_import(cli_invocation *cli);
int cmd_verify(cli_invocation *cli);
int cmd_extract(cli_invocation *cli);
int cmd_diff(cli_invocation *cli);
int cmd_merge_driver(cli_invocation *cli);
int cmd_install_git(cli_invocation *cli);
int cmd_convert(cli_invocation *cli);

/* ---- progress on a terminal (progress.c) ---- */

/** Progress state: a line on stderr redrawn in place when stderr is a
 *  terminal and -q is not given; nothing otherwise. */
typedef struct cli_progress {
	bool enabled;
	double started;   /* monotonic seconds at the phase start */
	int phase;        /* the phase shown, or -1 */
	double last_draw;
	bool drawn;       /* a line is on screen */
} cli_progress;

void cli_progress_init(cli_progress *p, const cli_invocation *cli);
/** A wl_progress_fn; ctx is the cli_progress. */
void cli_progress_report(void *ctx, const wl_progress *progress);
/** Ends the line on screen, if any. */
void cli_progress_done(cli_progress *p);
int cmd_help(cli_invocation *cli);

#endif
