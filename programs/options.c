/*
 * options.c - the command and option tables, the argument parser and the
 * help texts. Both the parser and --help read the same tables, so an
 * option cannot be accepted without being documented, or the reverse.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_READERS (CMD_FMT | CMD_CHECK | CMD_SHOW | CMD_RUNTIME_MANIFEST | CMD_MANIFEST)

const cli_option cli_options[] = {
	{OPT_CHDIR, 'C', NULL, "DIR", CMD_GLOBAL,
	 "run as if started in DIR (the project directory)"},
	{OPT_CONFIG, 'f', NULL, "FILE", CMD_GLOBAL,
	 "the cog.yaml to read (default: DIR/cog.yaml)"},
	{OPT_LOCK, 0, "lock", "FILE", CMD_GLOBAL,
	 "the lockfile (default: DIR/weights.lock)"},
	{OPT_QUIET, 'q', NULL, NULL, CMD_GLOBAL, "no informational messages on stderr"},
	{OPT_VERBOSE, 'v', NULL, NULL, CMD_GLOBAL, "more informational messages on stderr"},
	{OPT_HELP, 'h', "help", NULL, CMD_GLOBAL, "show help and exit"},
	{OPT_CHECK, 0, "check", NULL, CMD_FMT,
	 "write nothing; exit 1 if the file is not canonical"},
	{OPT_CHECK, 0, "check", NULL, CMD_IMPORT,
	 "decide as import would, write nothing; exit 1 if the lockfile would change"},
	{OPT_STDOUT, 0, "stdout", NULL, CMD_FMT | CMD_CONVERT,
	 "print the canonical bytes; never write the file"},
	{OPT_JSON, 0, "json", NULL, CMD_SHOW | CMD_DRIFT | CMD_VERIFY | CMD_DIFF | CMD_STATUS | CMD_IMPORT,
	 "print JSON instead of text"},
	{OPT_OUTPUT, 'o', NULL, "FILE", CMD_RUNTIME_MANIFEST,
	 "write to FILE atomically instead of stdout"},
	{OPT_CONFIG_BLOB, 0, "config", NULL, CMD_MANIFEST,
	 "print the config blob instead of the manifest"},
	{OPT_KEEP, 0, "keep", "NAME", CMD_PRUNE,
	 "keep entry NAME (repeatable; default: cog.yaml's)"},
	{OPT_TIMEOUT, 0, "timeout", "SECONDS", CMD_FMT | CMD_PRUNE | CMD_WITH_LOCK | CMD_IMPORT | CMD_CONVERT,
	 "wait at most SECONDS for the guard lock (default: forever)"},
	{OPT_TIMEOUT, 0, "timeout", "SECONDS", CMD_EXTRACT,
	 "wait at most SECONDS for DEST's extract lock (default: forever)"},
	{OPT_TIMEOUT, 0, "timeout", "SECONDS", CMD_PUSH | CMD_PULL | CMD_STATUS,
	 "give up on a request that makes no progress for SECONDS (default: 30)"},
	{OPT_INCLUDE, 0, "include", "PATTERN", CMD_DIGEST,
	 "keep only files matching PATTERN (repeatable)"},
	{OPT_EXCLUDE, 0, "exclude", "PATTERN", CMD_DIGEST,
	 "drop files matching PATTERN (repeatable; wins over --include)"},
	{OPT_LIST, 0, "list", NULL, CMD_DIGEST, "first print `<hex>  <path>` per file"},
	{OPT_DRY_RUN, 0, "dry-run", NULL, CMD_IMPORT, "print the plan; write nothing"},
	{OPT_REPACK, 0, "repack", NULL, CMD_IMPORT, "ignore the recorded layers: pack every selected weight"},
	{OPT_OCI_LAYOUT, 0, "oci-layout", "DIR", CMD_IMPORT, "also write the layers and manifests to this OCI image layout"},
	{OPT_OCI_LAYOUT, 0, "oci-layout", "DIR", CMD_EXTRACT, "read the manifest and layers from this OCI image layout"},
	{OPT_OCI_LAYOUT, 0, "oci-layout", "DIR", CMD_PUSH,
	 "read the layer blobs from this OCI image layout (default: pack again)"},
	{OPT_NO_CACHE, 0, "no-cache", NULL, CMD_IMPORT, "read every file, ignore the hash cache"},
	{OPT_CACHE_DIR, 0, "cache-dir", "DIR", CMD_IMPORT,
	 "hash cache directory (default: $XDG_CACHE_HOME/weightslock)"},
	{OPT_BUNDLE_FILE_MAX, 0, "bundle-file-max", "BYTES", CMD_IMPORT,
	 "files smaller than BYTES are bundled (default: 64 MiB)"},
	{OPT_BUNDLE_SIZE_MAX, 0, "bundle-size-max", "BYTES", CMD_IMPORT,
	 "target size of a bundle (default: 256 MiB)"},
	{OPT_JOBS, 'j', "jobs", "N", CMD_DIGEST | CMD_IMPORT | CMD_VERIFY | CMD_EXTRACT,
	 "use N threads (default: from the number of CPUs)"},
	{OPT_JOBS, 'j', "jobs", "N", CMD_PUSH | CMD_PULL | CMD_STATUS, "run N transfers at once (default: 4)"},
	{OPT_SIZES_ONLY, 0, "sizes-only", NULL, CMD_VERIFY, "compare sizes only; read no content"},
	{OPT_FORCE, 0, "force", NULL, CMD_EXTRACT, "write into a non-empty DEST extract does not own; remove nothing"},
	{OPT_STORE, 0, "store", "DIR", CMD_IMPORT,
	 "content store for the files of remote sources (default: $COG_CACHE_DIR/weights, else Cog's)"},
	{OPT_STORE, 0, "store", "DIR", CMD_PULL, "the content store to fill (default: $COG_CACHE_DIR/weights, else Cog's)"},
	{OPT_STORE, 0, "store", "DIR", CMD_PUSH,
	 "content store to read remote sources' files from (default: as for import)"},
	{OPT_CACERT, 0, "cacert", "FILE", CMD_IMPORT | CMD_PUSH | CMD_EXTRACT | CMD_PULL | CMD_STATUS,
	 "also trust the CA certificates in FILE (HTTPS)"},
	{OPT_REPOSITORY, 0, "repository", "REF", CMD_PUSH | CMD_PULL | CMD_STATUS,
	 "REGISTRY/REPO (default: cog.yaml's model:, else image:)"},
	{OPT_PLAIN_HTTP, 0, "plain-http", NULL, CMD_PUSH | CMD_EXTRACT | CMD_PULL | CMD_STATUS,
	 "talk to the registry over plain HTTP (no TLS)"},
	{OPT_AUTHFILE, 0, "authfile", "FILE", CMD_PUSH | CMD_EXTRACT | CMD_PULL | CMD_STATUS,
	 "registry credentials (auth.json / config.json format), looked at first"},
	{OPT_RETRIES, 0, "retries", "N", CMD_PUSH | CMD_EXTRACT | CMD_PULL | CMD_STATUS,
	 "retries of a failed request (default: 5)"},
	{OPT_REGISTRY, 0, "registry", "REF", CMD_EXTRACT, "stream the layers from registry repository REF"},
	{OPT_MOUNT_FROM, 0, "mount-from", "REPO", CMD_PUSH,
	 "mount blobs from REPO on the same registry instead of sending them"},
	{OPT_GIT, 0, "git", NULL, CMD_DIFF,
	 "take git's diff-driver arguments (PATH OLD-FILE OLD-HEX OLD-MODE NEW-FILE ...)"},
	{OPT_GLOBAL_CONFIG, 0, "global", NULL, CMD_INSTALL_GIT,
	 "write the user's global git config instead of the repository's"},
	{OPT_TO, 0, "to", "SHAPE", CMD_CONVERT, "the shape to write: single or multi"},
};
const size_t cli_option_count = sizeof cli_options / sizeof cli_options[0];

const cli_command cli_commands[] = {
	{"fmt", CMD_FMT, "[LOCKFILE]", "rewrite a lockfile in canonical form",
	 "Parse the lockfile and write it back in canonical form, byte for byte as\n"
	 "Cog writes it. The file is replaced atomically, under the guard lock\n"
	 "(LOCKFILE.guard), and only if its bytes change; otherwise it is left\n"
	 "untouched. A LOCKFILE of - reads standard input and implies --stdout.\n"
	 "Exit status: 0 done; 1 not canonical (--check); 2 error.\n",
	 cmd_fmt},
	{"check", CMD_CHECK, "[LOCKFILE]", "check every entry for internal consistency",
	 "Parse and validate the lockfile, then check every entry: setDigest is the\n"
	 "set digest of its files, digest is the sha256 of its OCI manifest, size\n"
	 "and sizeCompressed are the sums over its layers, every file names a layer\n"
	 "of the entry, every layer holds a file and its sizeUncompressed is the sum\n"
	 "of its files' sizes, and paths are valid. Prints one line per problem on\n"
	 "stdout, `NAME: what is wrong`. A NAME that is not a valid cog.yaml weight\n"
	 "name (e.g. one holding spaces or control characters) is printed quoted\n"
	 "with Go's %q rules. A LOCKFILE of - reads standard input.\n"
	 "Exit status: 0 consistent; 1 problems found; 2 error.\n",
	 cmd_check},
	{"show", CMD_SHOW, "[LOCKFILE] [NAME...]", "summarize the weights of a lockfile",
	 "Print, per weight (all of them, or each NAME in the order given): name,\n"
	 "target, source URIs and fingerprints, include and exclude patterns, file\n"
	 "and layer counts, sizes, set digest, manifest digest and import time.\n"
	 "Text that is not plain printable UTF-8 is printed quoted with Go's %q\n"
	 "rules. With --json, print a JSON array of objects with the keys name,\n"
	 "target, sources (uri, fingerprint, include, exclude), importedAt, digest,\n"
	 "setDigest, size, sizeCompressed, fileCount and layerCount.\n"
	 "The first operand is the LOCKFILE when it is -, contains a /, ends in\n"
	 ".lock, or names an existing regular file, and --lock is not given;\n"
	 "otherwise every operand is a NAME. A NAME not in the lockfile is an error.\n"
	 "Exit status: 0 done; 2 error.\n",
	 cmd_show},
	{"runtime-manifest", CMD_RUNTIME_MANIFEST, "[LOCKFILE]",
	 "print the runtime manifest (/.cog/weights.json)",
	 "Print the runtime manifest that Cog writes into the image as\n"
	 "/.cog/weights.json, projected from the lockfile, byte for byte (no added\n"
	 "newline). With -o FILE, write it to FILE atomically instead (an -o of -\n"
	 "is stdout); FILE is not rewritten when it already holds these bytes.\n"
	 "Exit status: 0 done; 2 error.\n",
	 cmd_runtime_manifest},
	{"manifest", CMD_MANIFEST, "NAME [LOCKFILE]", "print the OCI manifest of an entry",
	 "Print the OCI image manifest (with --config, the config blob) that the\n"
	 "entry NAME projects to, byte for byte (no added newline). The sha256 of\n"
	 "the manifest bytes is the entry's digest in a consistent lockfile.\n"
	 "Exit status: 0 done; 2 error (including an unknown NAME).\n",
	 cmd_manifest},
	{"drift", CMD_DRIFT, "", "compare cog.yaml with the lockfile",
	 "Compare the weights declared in cog.yaml (-f) with the lockfile (--lock).\n"
	 "A missing lockfile means every declared weight is pending. When they\n"
	 "differ, prints Cog's message on stdout, one bullet per weight; when they\n"
	 "agree, says so on stderr. With --json, prints a JSON array of\n"
	 "{\"name\", \"kind\", \"details\"} objects, kind being pending, orphaned or\n"
	 "config-changed ([] when they agree).\n"
	 "Exit status: 0 in sync; 1 drift found; 2 error.\n",
	 cmd_drift},
	{"prune", CMD_PRUNE, "", "remove lockfile entries that are not kept",
	 "Remove the lockfile entries whose names are not kept: the --keep names,\n"
	 "or without --keep the weights declared in cog.yaml. The lockfile is\n"
	 "rewritten atomically under the guard lock, and only if an entry is\n"
	 "removed; a missing lockfile is left missing.\n"
	 "Exit status: 0 done; 2 error.\n",
	 cmd_prune},
	{"with-lock", CMD_WITH_LOCK, "[LOCKFILE] -- COMMAND [ARG...]",
	 "run a command while holding the guard lock",
	 "Take the guard lock of LOCKFILE (default: --lock, else weights.lock), the\n"
	 "exclusive flock(2) on .cog/cog.lock beside LOCKFILE (later Cog) and then\n"
	 "on LOCKFILE.guard (Cog v0.19) that Cog and weightslock writers honour,\n"
	 "run COMMAND, and release both when COMMAND exits. --timeout covers both.\n"
	 "SIGINT and SIGTERM are passed on to COMMAND while it runs.\n"
	 "Exit status: COMMAND's status (128+N if it died of signal N); 2 on\n"
	 "timeout, or SIGINT/SIGTERM while waiting (COMMAND is not run), or bad\n"
	 "usage; 127 if COMMAND cannot be executed.\n",
	 cmd_with_lock},
	{"digest", CMD_DIGEST, "DIR", "print the set digest of a local weight directory",
	 "Walk DIR as a local weight source (symbolic links and other non-regular\n"
	 "entries are refused, .cog directories skipped), read and hash every file,\n"
	 "apply the include and exclude patterns as cog.yaml does (Cog's\n"
	 "go-gitignore translation; patterns are trimmed and sorted first), and\n"
	 "print the set digest, sha256:<hex>. With --list, first print one\n"
	 "`<hex>  <path>` line per kept file, sorted by path (sha256sum's format).\n"
	 "A pattern whose translation RE2 cannot compile (`[`, `[a*`, `[z-a]`) is\n"
	 "dropped, as Cog drops it, with a warning on stderr (even with -q).\n"
	 "The hash cache is never used: every byte is read.\n"
	 "Exit status: 0 done; 2 error (including no file left by the patterns).\n",
	 cmd_digest},
	{"import", CMD_IMPORT, "[NAME...]", "import weights (local, hf://, https://) into the lockfile",
	 "Import the named weights (default: every weight declared in cog.yaml\n"
	 "whose source is a local directory, an hf:// repository or an https://\n"
	 "file): list, hash, filter, pack into tar layers, build the OCI manifest,\n"
	 "and update the lockfile under the guard lock. An entry whose\n"
	 "declaration, fingerprint and packing are unchanged is left byte for byte\n"
	 "as it was; the lockfile is rewritten only if something changed, and not\n"
	 "at all if any weight fails. Entries of weights no longer declared are\n"
	 "removed. Unchanged files are not re-read: their digests come from a hash\n"
	 "cache keyed by device, inode, size and times (--cache-dir, default\n"
	 "$XDG_CACHE_HOME/weightslock or ~/.cache/weightslock), trusted only when\n"
	 "it and its directory are yours and writable by no one else (otherwise\n"
	 "ignored, with a warning). Patterns RE2 cannot compile are dropped with a\n"
	 "warning, as in digest. With --oci-layout DIR the layers, config blobs\n"
	 "and manifests are also written to an OCI image layout, tagged by weight\n"
	 "name; a blob already there is kept only if its bytes hash to its name.\n"
	 "Sources may be hf://ORG/REPO[@REF] (HF_ENDPOINT, HF_TOKEN) and https://\n"
	 "files: their files are fetched, verified, into the content store (--store)\n"
	 "and packed from there; an unchanged commit or strong ETag downloads\n"
	 "nothing. A weight whose source: is a list merges its sources, later ones\n"
	 "winning path by path.\n"
	 "Each weight gets one decision: keep (the recorded layers stand), pack\n"
	 "(new, declaration changed, files changed upstream) or repack (same files,\n"
	 "but the recorded layers cannot be reused: --repack given, the lockfile's\n"
	 "envelope is another packer's, the layers do not match the plan, or an\n"
	 "OCI layout needs bytes another packer made). Records Cog made with the\n"
	 "same thresholds are reused like this program's own, so importing\n"
	 "unchanged sources over Cog's lockfile writes nothing.\n"
	 "--dry-run prints the plan (status, changes, files and size per weight) on\n"
	 "stdout and writes nothing; -v adds the included and excluded files.\n"
	 "--check decides the same way and writes nothing (no lockfile, hash cache,\n"
	 "store or layout): it prints `NAME: WHY` per weight that would change the\n"
	 "lockfile and `NAME: undeclared, would be removed`, and exits 1 if the\n"
	 "lockfile would change; for CI, like `cargo --locked`.\n"
	 "--json prints instead one document on stdout:\n"
	 "  {\"schema\": \"weightslock.import/1\", \"lockfile\": PATH, \"changed\": B,\n"
	 "   \"written\": B, \"weights\": [{\"name\", \"status\", \"decision\",\n"
	 "   \"reason\", \"changes\": [S], \"files\": N, \"bytes\": N, \"digest\": S|null}],\n"
	 "   \"removed\": [NAME]}\n"
	 "(digest is null where a dry run cannot know it without packing).\n"
	 "Exit status: 0 done (--check: up to date); 1 --check: would change; 2 error.\n",
	 cmd_import},
	{"verify", CMD_VERIFY, "NAME DIR", "check that a directory holds exactly an entry's files",
	 "Check that DIR holds exactly the file set of the lockfile entry NAME: the\n"
	 "same paths, sizes and sha256 digests, nothing missing and nothing extra.\n"
	 "A .cog directory at the top of DIR (the provider's state markers) is\n"
	 "ignored; one deeper down is not. DIR is walked without following symbolic\n"
	 "links (DIR itself may be one): any entry that is not a directory and not\n"
	 "recorded is extra, symbolic links, FIFOs, sockets and devices included; a\n"
	 "recorded path that is not a regular file is modified; a recorded path\n"
	 "below something that is not a directory is missing. Sizes are compared\n"
	 "first; only files of the right size are read, on --jobs threads, and\n"
	 "--sizes-only reads none. Every byte is read: the hash cache is not used.\n"
	 "Prints one line per difference on stdout, `missing PATH`, `extra PATH` or\n"
	 "`modified PATH`, all sorted together by path (byte-wise). A PATH that is\n"
	 "not plain printable UTF-8, starts with a double quote, or starts or ends\n"
	 "with a space, is printed quoted with Go's %q rules. With --json, prints\n"
	 "{\"missing\": [...], \"extra\": [...], \"modified\": [...]}, each list\n"
	 "sorted by path (bytes that are not UTF-8 become U+FFFD). When DIR\n"
	 "matches, says so on stderr (unless -q).\n"
	 "Exit status: 0 DIR matches; 1 differences found; 2 error (including an\n"
	 "unknown NAME or a DIR that does not exist).\n",
	 cmd_verify},
	{"extract", CMD_EXTRACT, "NAME DEST", "materialize an entry from an OCI image layout or a registry",
	 "Materialize the lockfile entry NAME into DEST from the OCI image layout\n"
	 "given with --oci-layout, or streamed from the registry repository given\n"
	 "with --registry REGISTRY/REPO (credentials and TLS as for push): find the\n"
	 "manifest by the entry's digest, check that it and the config blob hash to\n"
	 "their digests and are exactly what the entry projects to, then extract\n"
	 "every layer (tar, tar+gzip, tar+zstd) in parallel on --jobs threads,\n"
	 "checking each file's size and sha256 as it is written. Layers are\n"
	 "untrusted: links, devices, FIFOs, whiteouts, absolute or `..` paths,\n"
	 "unlisted or repeated entries, and decompression beyond the recorded sizes\n"
	 "are refused, and nothing is written outside DEST. DEST/.cog/ holds the\n"
	 "markers: `downloading` while working, `ready` once every file is verified\n"
	 "and flushed to disk, `failed` (with the error) otherwise. The entry must\n"
	 "pass `check` before anything is written. Files already present and correct\n"
	 "are kept. A DEST found absent or empty becomes extract's own\n"
	 "(DEST/.cog/weightslock); only then are files that are not part of the\n"
	 "entry removed (never through a link, never on another filesystem). Any\n"
	 "other non-empty DEST is refused untouched unless --force, which writes the\n"
	 "entry's files and removes nothing. Two extracts into one DEST take turns\n"
	 "(DEST/.cog/extract.lock; --timeout bounds the wait).\n"
	 "Exit status: 0 done; 1 content does not match the lockfile; 2 error.\n",
	 cmd_extract},
	{"push", CMD_PUSH, "[NAME...]", "upload entries to a registry",
	 "Upload the named entries of the lockfile (default: all) to the registry\n"
	 "repository given with --repository REGISTRY/REPO (default: cog.yaml's\n"
	 "model:, else image:): every layer blob, read from the OCI image layout\n"
	 "given with --oci-layout (as `import --oci-layout` writes it), or without\n"
	 "one packed again on the fly from the sources (local directories, and the\n"
	 "content store --store for remote ones; the bytes must hash to the recorded\n"
	 "digest, else the push stops saying the source changed, or that another\n"
	 "packer made the layer and it must already be in the registry; nothing is\n"
	 "written to disk), the config blob and the manifest, tagged\n"
	 "weights-NAME-HEX12 (a multi-source lockfile: cog-weight.NAME.HEX12). A\n"
	 "blob the registry has is not sent again; blobs above 128 MiB, or refused\n"
	 "as too large, go in chunks; --jobs transfers run at once (default 4). The\n"
	 "registry must report the entry's digest for the manifest. Prints one line\n"
	 "per weight: `NAME: pushed REF@DIGEST` or `NAME: already present\n"
	 "REF@DIGEST`. What was uploaded before a failure stays there: running push\n"
	 "again sends only what is missing.\n"
	 "Credentials come from --authfile, then $REGISTRY_AUTH_FILE, the\n"
	 "containers auth.json ($XDG_RUNTIME_DIR/containers/, $XDG_CONFIG_HOME/\n"
	 "containers/), then $DOCKER_CONFIG/config.json or ~/.docker/config.json\n"
	 "(auths, credHelpers, credsStore); they are never printed. TLS with the\n"
	 "system CAs (and --cacert), or --plain-http.\n"
	 "Exit status: 0 pushed; 2 error.\n",
	 cmd_push},
	{"pull", CMD_PULL, "[NAME...]", "fill the content store from a registry",
	 "Fill the content store Cog shares (--store DIR, else\n"
	 "$COG_CACHE_DIR/weights, else $XDG_CACHE_HOME/cog/weights, else\n"
	 "~/.cache/cog/weights) with every file of the named entries (default:\n"
	 "all), from the registry repository given with --repository (default:\n"
	 "cog.yaml's model:, else image:). An entry whose files are all in the\n"
	 "store costs no request. Otherwise its manifest is fetched by the entry's\n"
	 "digest and must be exactly what the entry projects to, and only the\n"
	 "layers that hold a missing file are streamed, --jobs at once, through\n"
	 "the same checks as extract, straight into the store: each file is\n"
	 "written under a temporary name and renamed into place only once its size\n"
	 "and sha256 are verified. While a layer that holds several files comes,\n"
	 "its bytes are kept in the store as put-layer-<hex>: a pull that was\n"
	 "killed, or stopped with Ctrl-C, then replays them and asks the registry\n"
	 "only for the rest; the file is removed once the layer is done or fails.\n"
	 "Nothing else is written. Prints one line per weight: `NAME: cached` or\n"
	 "`NAME: pulled N files, SIZE`. Credentials and TLS as for push.\n"
	 "Exit status: 0 done; 1 content does not match the lockfile; 2 error.\n",
	 cmd_pull},
	{"status", CMD_STATUS, "", "compare cog.yaml, the lockfile and the registry",
	 "Show each weight declared in cog.yaml or locked in the lockfile as Cog's\n"
	 "`cog weights status` does, one line per weight: NAME, TARGET, STATUS, SIZE,\n"
	 "LAYERS and the short DIGEST, under a header line. STATUS is one of:\n"
	 "  ready       locked as declared; every layer blob and the manifest are\n"
	 "              in the registry\n"
	 "  incomplete  locked as declared; a layer blob or the manifest is missing\n"
	 "  stale       locked, but the target, URI or filters declared have changed\n"
	 "  pending     declared, not in the lockfile (or there is no lockfile)\n"
	 "  orphaned    in the lockfile, no longer declared\n"
	 "Only ready and incomplete weights are looked up in the registry: one HEAD\n"
	 "per layer blob and one for the manifest by the entry's digest (Cog checks\n"
	 "the blobs only), --jobs at once (default 4). The repository is --repository\n"
	 "REGISTRY/REPO, else cog.yaml's model:, else image:; credentials, TLS and\n"
	 "--plain-http as for push. With -v, one line per layer under each weight\n"
	 "looked up (ready or missing). On stderr (unless -q): what changed for a\n"
	 "stale weight, and a manifest missing. With --json, prints Cog's object:\n"
	 "{\"weights\": [{\"name\", \"target\", \"status\", \"size\", \"sizeCompressed\",\n"
	 "\"layerCount\", \"fileCount\", \"digest\", \"source\": {\"uri\", \"fingerprint\"},\n"
	 "\"layers\": [{\"digest\", \"size\", \"status\"}]}]}, zero and empty values\n"
	 "left out. A registry that cannot be asked (unreachable, credentials\n"
	 "refused) is an error, not a missing layer. cog.yaml must declare weights.\n"
	 "Exit status: 0 every weight ready; 1 some weight is not; 2 error.\n",
	 cmd_status},
	{"diff", CMD_DIFF, "A B", "compare two lockfiles weight by weight",
	 "Compare two lockfiles (A the old, B the new; either may be -, standard\n"
	 "input; /dev/null or an empty file is a lockfile without weights) weight by\n"
	 "weight, by name: weights removed and modified in A's order, then weights\n"
	 "added in B's. Import times are ignored, and so is formatting. For a\n"
	 "modified weight: one summary line (file counts added/removed/modified,\n"
	 "size), the fields that differ (target, sources, digest, set digest,\n"
	 "compressed size), then the files that differ by path, with sizes, and the\n"
	 "layers added or removed. Files whose content is the same but that sit in\n"
	 "another layer are counted as moved (listed with -v). Also reported:\n"
	 "envelopeFormat, and a change of shape (single- or multi-source).\n"
	 "With --json, prints one object:\n"
	 "  {\"same\": BOOL,\n"
	 "   \"envelopeFormat\": {\"old\": S, \"new\": S},        (only when it differs)\n"
	 "   \"shape\": {\"old\": \"single\"|\"multi\", \"new\": ...}, (only when it differs)\n"
	 "   \"weights\": [{\"name\": S, \"change\": \"added\"|\"removed\"|\"modified\",\n"
	 "                \"old\": W, \"new\": W,          (the side that has it)\n"
	 "                \"fields\": [\"target\", \"sources\", \"digest\", \"setDigest\",\n"
	 "                           \"size\", \"sizeCompressed\", \"files\", \"layers\"],\n"
	 "                \"files\": [{\"path\": S, \"change\": \"added\"|\"removed\"|\n"
	 "                           \"modified\"|\"moved\", \"old\": F, \"new\": F}],\n"
	 "                \"layers\": [{\"digest\": S, \"change\": \"added\"|\"removed\"|\n"
	 "                            \"modified\", \"old\": L, \"new\": L}]}]}\n"
	 "  W = {\"target\", \"sources\": [{\"uri\", \"fingerprint\", \"include\",\n"
	 "       \"exclude\"}], \"digest\", \"setDigest\", \"size\", \"sizeCompressed\",\n"
	 "       \"fileCount\", \"layerCount\"}; F = {\"size\", \"digest\", \"layer\"};\n"
	 "  L = {\"mediaType\", \"size\", \"sizeUncompressed\"}. fields, files and\n"
	 "  layers are given for modified weights only; unchanged weights are left out.\n"
	 "With --git, the operands are the seven git gives a diff driver\n"
	 "(diff.weightslock.command, see install-git): PATH OLD-FILE OLD-HEX\n"
	 "OLD-MODE NEW-FILE NEW-HEX NEW-MODE (nine for a rename, one for an unmerged\n"
	 "path); the text diff is printed under a `weightslock diff a/PATH b/PATH`\n"
	 "line and the exit status is 0 whenever it could be computed, as git wants.\n"
	 "Exit status: 0 same; 1 different; 2 error.\n",
	 cmd_diff},
	{"merge-driver", CMD_MERGE_DRIVER, "BASE OURS THEIRS", "git's merge driver for weights.lock",
	 "Three-way merge of lockfiles keyed by weight name, as git's merge driver\n"
	 "(merge.weightslock.driver = `weightslock merge-driver %O %A %B`, see\n"
	 "install-git). A weight changed on one side only takes that side; changed\n"
	 "identically on both sides (import times aside), ours; removed on one side\n"
	 "and unchanged on the other, or on both, removed. A weight changed\n"
	 "differently on both sides, removed on one and changed on the other, or\n"
	 "added on both differently, is a conflict, and so are two weights that the\n"
	 "merge would give one target. Weights keep OURS's order; THEIRS's new\n"
	 "weights are appended in THEIRS's order. envelopeFormat merges the same\n"
	 "way, but when both sides changed it, OURS's is kept (with a note): it\n"
	 "names the packing behind the recorded layer digests, and import re-checks\n"
	 "layers against it. An empty BASE (git's, when there is no common\n"
	 "ancestor) is a lockfile without weights.\n"
	 "The result replaces OURS atomically (temporary file, rename; not fsynced:\n"
	 "OURS is git's temporary copy, which git writes into the work tree), in\n"
	 "canonical form and in OURS's shape (a weight that does not have exactly\n"
	 "one source makes a single-source result multi-source, with a note); OURS\n"
	 "is not rewritten when the result is its own bytes. On a conflict, OURS is\n"
	 "left byte for byte as it was and every conflicting weight is named on\n"
	 "stderr with both versions.\n"
	 "Exit status: 0 merged; 1 conflict; 2 error (OURS untouched).\n",
	 cmd_merge_driver},
	{"install-git", CMD_INSTALL_GIT, "", "set up git's merge and diff drivers for weights.lock",
	 "Add the line `weights.lock merge=weightslock diff=weightslock` to the\n"
	 ".gitattributes at the top of the git repository (git rev-parse\n"
	 "--show-toplevel, run in the current directory or -C DIR) unless it is\n"
	 "there, and set, with git config, merge.weightslock.name,\n"
	 "merge.weightslock.driver (`PROGRAM merge-driver %O %A %B`) and\n"
	 "diff.weightslock.command (`PROGRAM diff --git`) in the repository's\n"
	 "config, or with --global in the user's (outside a repository, --global\n"
	 "writes the config only). PROGRAM is `weightslock` when the program found\n"
	 "on PATH is this very one, else the absolute path of this program, so the\n"
	 "drivers keep working after an upgrade on PATH and also work from a build\n"
	 "directory. Running it again changes nothing.\n"
	 "Exit status: 0 done; 2 error (including not in a git repository).\n",
	 cmd_install_git},
	{"convert", CMD_CONVERT, "[LOCKFILE]", "rewrite a lockfile in the other shape",
	 "Rewrite the lockfile, under the guard lock, in the shape given with --to\n"
	 "(required): multi, the multi-source shape of Cog after v0.19.3 (a\n"
	 "`sources` list and an entry-level importedAt), or single, the shape of\n"
	 "Cog v0.19.3 (one `source` object). An entry with several sources, or\n"
	 "none, cannot be written in the single shape: that is an error and the\n"
	 "file is left untouched. A file already in the asked shape is not\n"
	 "rewritten. Converting to multi and back to single gives the same bytes.\n"
	 "With --stdout, or a LOCKFILE of -, the converted bytes are printed and no\n"
	 "file is written.\n"
	 "Exit status: 0 done; 2 error.\n",
	 cmd_convert},
	{"version", CMD_VERSION, "", "print the version", "Print `weightslock VERSION`.\n",
	 cmd_version},
	{"help", CMD_HELP, "[COMMAND]", "show help for weightslock or a command",
	 "Show the list of commands, or the help of COMMAND.\n", cmd_help},
};
const size_t cli_command_count = sizeof cli_commands / sizeof cli_commands[0];

const cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < cli_command_count; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

static bool accepts(const cli_command *command, const cli_option *option)
{
	if (option->commands & CMD_GLOBAL)
		return true;
	return command != NULL && (option->commands & command->bit) != 0;
}

/* The option named NAME (N bytes; N == 0: the short option C) that COMMAND
 * accepts; else any option so named, which the caller rejects by name. One
 * name may mean different things to different commands. */
static const cli_option *find_option(const cli_command *command, const char *name, size_t n, char c)
{
	const cli_option *any = NULL;
	for (size_t i = 0; i < cli_option_count; i++) {
		const char *l = cli_options[i].long_name;
		bool named = n > 0 ? l != NULL && strlen(l) == n && memcmp(l, name, n) == 0
		                   : cli_options[i].short_name == c;
		if (!named)
			continue;
		if (accepts(command, &cli_options[i]))
			return &cli_options[i];
		if (any == NULL)
			any = &cli_options[i];
	}
	return any;
}

static bool push(const char ***list, size_t *count, const char *value)
{
	const char **grown = realloc(*list, (*count + 1) * sizeof **list);
	if (grown == NULL)
		return false;
	grown[(*count)++] = value;
	*list = grown;
	return true;
}

/* A whole number of bytes (or threads) within [0, max]. */
static int parse_count(int64_t *out, const char *text, int64_t max)
{
	if (text[0] < '0' || text[0] > '9')
		return -1;
	int64_t v = 0;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (max - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

static int parse_timeout(double *out, const char *text)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (text[0] == '\0' || end == NULL || *end != '\0' || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Applies one option with its value. Returns -1 to go on, else an exit
 * status. */
static int apply(cli_invocation *cli, const cli_option *option, const char *value)
{
	switch (option->id) {
	case OPT_CHDIR:
		if (!push(&cli->chdirs, &cli->chdir_count, value))
			return cli_error("out of memory");
		break;
	case OPT_CONFIG: cli->config_path = value; break;
	case OPT_LOCK: cli->lock_path = value; break;
	case OPT_QUIET:
		cli->quiet = true;
		cli->verbose = false;
		break;
	case OPT_VERBOSE:
		cli->verbose = true;
		cli->quiet = false;
		break;
	case OPT_HELP:
		return cli->command != NULL ? cli_print_command_help(cli->command) : cli_print_main_help();
	case OPT_CHECK: cli->check = true; break;
	case OPT_STDOUT: cli->to_stdout = true; break;
	case OPT_JSON: cli->json = true; break;
	case OPT_OUTPUT: cli->output = value; break;
	case OPT_CONFIG_BLOB: cli->config_blob = true; break;
	case OPT_KEEP:
		if (!push(&cli->keep, &cli->keep_count, value))
			return cli_error("out of memory");
		break;
	case OPT_INCLUDE:
	case OPT_EXCLUDE:
		if (!(option->id == OPT_INCLUDE ? push(&cli->include, &cli->include_count, value)
		                                : push(&cli->exclude, &cli->exclude_count, value)))
			return cli_error("out of memory");
		break;
	case OPT_LIST: cli->list = true; break;
	case OPT_DRY_RUN: cli->dry_run = true; break;
	case OPT_REPACK: cli->repack = true; break;
	case OPT_SIZES_ONLY: cli->sizes_only = true; break;
	case OPT_FORCE: cli->force = true; break;
	case OPT_OCI_LAYOUT: cli->oci_layout = value; break;
	case OPT_NO_CACHE: cli->no_cache = true; break;
	case OPT_CACHE_DIR: cli->cache_dir = value; break;
	case OPT_STORE: cli->store = value; break;
	case OPT_CACERT: cli->cacert = value; break;
	case OPT_GIT: cli->git_driver = true; break;
	case OPT_GLOBAL_CONFIG: cli->global_config = true; break;
	case OPT_TO: cli->to_shape = value; break;
	case OPT_REPOSITORY: cli->repository = value; break;
	case OPT_PLAIN_HTTP: cli->plain_http = true; break;
	case OPT_AUTHFILE: cli->authfile = value; break;
	case OPT_REGISTRY: cli->registry = value; break;
	case OPT_MOUNT_FROM: cli->mount_from = value; break;
	case OPT_RETRIES: {
		int64_t n = 0;
		if (parse_count(&n, value, 100) != 0)
			return cli_usage_error(cli->command, "--retries wants a number from 0 to 100, not '%s'", value);
		cli->retries = (int)n;
		break;
	}
	case OPT_BUNDLE_FILE_MAX:
	case OPT_BUNDLE_SIZE_MAX:
		if (parse_count(option->id == OPT_BUNDLE_FILE_MAX ? &cli->bundle_file_max : &cli->bundle_size_max,
		                value, INT64_MAX) != 0)
			return cli_usage_error(cli->command, "--%s wants a whole number of bytes, not '%s'",
			                       option->long_name, value);
		break;
	case OPT_JOBS: {
		int64_t n = 0;
		if (parse_count(&n, value, 1024) != 0 || n < 1)
			return cli_usage_error(cli->command, "--jobs wants a number of threads from 1 to 1024, not '%s'",
			                       value);
		cli->jobs = (int)n;
		break;
	}
	case OPT_TIMEOUT:
		if (parse_timeout(&cli->timeout, value) != 0)
			return cli_usage_error(cli->command,
			                       "--timeout wants a non-negative number of seconds, not '%s'",
			                       value);
		break;
	}
	return -1;
}

static const char *option_spelling(const cli_option *option, char *buf, size_t size)
{
	if (option->long_name != NULL)
		snprintf(buf, size, "--%s", option->long_name);
	else
		snprintf(buf, size, "-%c", option->short_name);
	return buf;
}

/*
 * Parses the option or options in argv[*i]; may consume argv[*i + 1] as a
 * value. `args_only` is false before the command name. Returns -1 to go on,
 * else an exit status.
 */
static int parse_option(cli_invocation *cli, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const cli_command *command = cli->command;
	char spelled[64];
	if (arg[1] == '-') {
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
		const cli_option *option = find_option(command, name, n, 0);
		if (option == NULL || !accepts(command, option))
			return cli_usage_error(command, "unknown option '%.*s'", (int)(n + 2), arg);
		option_spelling(option, spelled, sizeof spelled);
		const char *value = NULL;
		if (option->arg != NULL) {
			if (eq != NULL) {
				value = eq + 1;
			} else if (*i + 1 < argc) {
				value = argv[++*i];
			} else {
				return cli_usage_error(command, "option '%s' needs a value (%s)", spelled,
				                       option->arg);
			}
		} else if (eq != NULL) {
			return cli_usage_error(command, "option '%s' takes no value", spelled);
		}
		return apply(cli, option, value);
	}
	for (const char *p = arg + 1; *p != '\0'; p++) {
		const cli_option *option = find_option(command, NULL, 0, *p);
		if (option == NULL || !accepts(command, option))
			return cli_usage_error(command, "unknown option '-%c'", *p);
		if (option->arg == NULL) {
			int rc = apply(cli, option, NULL);
			if (rc >= 0)
				return rc;
			continue;
		}
		const char *value;
		if (p[1] != '\0') {
			value = p + 1;
		} else if (*i + 1 < argc) {
			value = argv[++*i];
		} else {
			return cli_usage_error(command, "option '-%c' needs a value (%s)", *p, option->arg);
		}
		return apply(cli, option, value);
	}
	return -1;
}

int cli_parse(cli_invocation *cli, int argc, char **argv)
{
	memset(cli, 0, sizeof *cli);
	cli->timeout = -1;
	cli->retries = -1;
	int i = 1;
	/* Global options, then the command name. */
	for (; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--version") == 0) {
			cli->command = cli_find_command("version");
			i++;
			break;
		}
		if (arg[0] == '-' && arg[1] != '\0') {
			if (strcmp(arg, "--") == 0)
				return cli_usage_error(NULL, "expected a command before '--'");
			int rc = parse_option(cli, argc, argv, &i);
			if (rc >= 0)
				return rc;
			continue;
		}
		cli->command = cli_find_command(arg);
		if (cli->command == NULL)
			return cli_usage_error(NULL, "unknown command '%s'", arg);
		i++;
		break;
	}
	if (cli->command == NULL)
		return cli_usage_error(NULL, "no command given");
	/* The command's options and operands, in any order, up to "--". */
	for (; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			cli->saw_dashdash = true;
			i++;
			break;
		}
		if (arg[0] == '-' && arg[1] != '\0') {
			int rc = parse_option(cli, argc, argv, &i);
			if (rc >= 0)
				return rc;
			continue;
		}
		if (!push(&cli->operands, &cli->operand_count, arg))
			return cli_error("out of memory");
	}
	if (cli->command->bit == CMD_WITH_LOCK) {
		cli->exec_argv = argv + i;
		cli->exec_argc = (size_t)(argc - i);
	} else {
		for (; i < argc; i++)
			if (!push(&cli->operands, &cli->operand_count, argv[i]))
				return cli_error("out of memory");
	}
	return -1;
}

void cli_release(cli_invocation *cli)
{
	free(cli->chdirs);
	free(cli->keep);
	free(cli->include);
	free(cli->exclude);
	free(cli->operands);
	memset(cli, 0, sizeof *cli);
}

/* ---- help ---- */

static void option_label(char *buf, size_t size, const cli_option *option)
{
	if (option->short_name != 0 && option->long_name != NULL)
		snprintf(buf, size, "-%c, --%s%s%s", option->short_name, option->long_name,
		         option->arg ? " " : "", option->arg ? option->arg : "");
	else if (option->short_name != 0)
		snprintf(buf, size, "-%c%s%s", option->short_name, option->arg ? " " : "",
		         option->arg ? option->arg : "");
	else
		snprintf(buf, size, "    --%s%s%s", option->long_name, option->arg ? " " : "",
		         option->arg ? option->arg : "");
}

static void print_options(FILE *f, unsigned mask)
{
	for (size_t i = 0; i < cli_option_count; i++) {
		const cli_option *option = &cli_options[i];
		if ((option->commands & mask) == 0)
			continue;
		char label[64];
		option_label(label, sizeof label, option);
		/* the description in a column of 25 to 80, on the label's line
		 * unless the label reaches into it, wrapped at spaces */
		if (strlen(label) > 22)
			fprintf(f, "  %s\n%25s", label, "");
		else
			fprintf(f, "  %-22s ", label);
		const char *h = option->help;
		while (strlen(h) > 55) {
			const char *cut = h + 55;
			while (cut > h && *cut != ' ')
				cut--;
			if (cut == h) /* one long word: let it run over */
				cut = strchr(h + 55, ' ');
			if (cut == NULL)
				break;
			fprintf(f, "%.*s\n%25s", (int)(cut - h), h, "");
			h = cut + 1;
		}
		fprintf(f, "%s\n", h);
	}
}

static int finish_help(FILE *f)
{
	if (fflush(f) != 0 || ferror(f))
		return cli_error("write standard output: %s", strerror(errno));
	return EXIT_OK;
}

int cli_print_main_help(void)
{
	FILE *f = stdout;
	fprintf(f, "Usage: weightslock [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n");
	fprintf(f, "Read, check, rewrite and project Cog's managed-weights lockfile\n"
	           "(weights.lock).\n\nCommands:\n");
	for (size_t i = 0; i < cli_command_count; i++)
		fprintf(f, "  %-18s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "\nGlobal options (also accepted after the command name):\n");
	print_options(f, CMD_GLOBAL);
	fprintf(f, "  %-22s %s\n", "    --version", "print the version and exit");
	fprintf(f, "\nRun 'weightslock help COMMAND' or 'weightslock COMMAND --help' for more.\n"
	           "Exit status: 0 success; 1 a difference or problem was found; 2 error.\n");
	return finish_help(f);
}

int cli_print_command_help(const cli_command *command)
{
	FILE *f = stdout;
	/* the synopsis, wrapped before 80 columns under the command name */
	int column = fprintf(f, "Usage: weightslock %s", command->name);
	int indent = column + 1;
	for (size_t i = 0; i < cli_option_count; i++) {
		const cli_option *option = &cli_options[i];
		if ((option->commands & command->bit) == 0)
			continue;
		char spelled[64], word[96];
		option_spelling(option, spelled, sizeof spelled);
		bool repeat = option->id == OPT_KEEP || option->id == OPT_INCLUDE || option->id == OPT_EXCLUDE;
		int n = snprintf(word, sizeof word, "[%s%s%s]%s", spelled, option->arg ? " " : "",
		                 option->arg ? option->arg : "", repeat ? "..." : "");
		if (column + 1 + n >= 80) {
			fprintf(f, "\n%*s", indent - 1, "");
			column = indent - 1;
		}
		column += fprintf(f, " %s", word);
	}
	if (command->operands[0] != '\0') {
		if (column + 1 + (int)strlen(command->operands) >= 80)
			fprintf(f, "\n%*s", indent - 1, "");
		fprintf(f, " %s", command->operands);
	}
	fprintf(f, "\n\n%s", command->details);
	bool any = false;
	for (size_t i = 0; i < cli_option_count; i++)
		any = any || (cli_options[i].commands & command->bit) != 0;
	if (any) {
		fprintf(f, "\nOptions:\n");
		print_options(f, command->bit);
	}
	fprintf(f, "\nGlobal options:\n");
	print_options(f, CMD_GLOBAL);
	return finish_help(f);
}

int cmd_help(cli_invocation *cli)
{
	if (cli->operand_count == 0)
		return cli_print_main_help();
	if (cli->operand_count > 1)
		return cli_usage_error(cli->command, "expected at most one COMMAND");
	const cli_command *command = cli_find_command(cli->operands[0]);
	if (command == NULL)
		return cli_usage_error(cli->command, "unknown command '%s'", cli->operands[0]);
	return cli_print_command_help(command);
}

int cmd_version(cli_invocation *cli)
{
	if (cli->operand_count != 0)
		return cli_usage_error(cli->command, "unexpected argument '%s'", cli->operands[0]);
	char line[64];
	int n = snprintf(line, sizeof line, "weightslock %s\n", wl_version());
	return cli_write_stdout(line, (size_t)n);
}
