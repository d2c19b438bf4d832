/*
 * auth.c - challenges, token answers and stored credentials for registry
 * authentication (SPEC.md §18.2). See auth.h.
 *
 * The challenge grammar (RFC 7235 §2.1, §4.1) is small enough that a
 * hand-written scanner is the clearest correct parser; JSON goes through
 * the project's own decoder (common/json_read), base64 through libcrypto.
 */
#include "net/auth.h"

#include "common/grammar.h"

#include "common/json_read.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- challenges ---- */

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~/", c) != NULL;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool word_is(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		if (c != (unsigned char)word[i])
			return false;
	}
	return true;
}

typedef struct scanner {
	const char *s;
	size_t n, i;
} scanner;

static void skip_spaces(scanner *sc)
{
	while (sc->i < sc->n && is_space((unsigned char)sc->s[sc->i]))
		sc->i++;
}

static size_t token(scanner *sc)
{
	size_t start = sc->i;
	while (sc->i < sc->n && is_tchar((unsigned char)sc->s[sc->i]))
		sc->i++;
	return sc->i - start;
}

/* A token or a quoted-string value, malloc'd and unescaped. */
static char *value(scanner *sc)
{
	wl_buf b;
	wl_buf_init(&b);
	if (sc->i < sc->n && sc->s[sc->i] == '"') {
		sc->i++;
		while (sc->i < sc->n && sc->s[sc->i] != '"') {
			if (sc->s[sc->i] == '\\' && sc->i + 1 < sc->n)
				sc->i++;
			wl_buf_putc(&b, sc->s[sc->i++]);
		}
		if (sc->i < sc->n)
			sc->i++; /* the closing quote */
	} else {
		size_t start = sc->i;
		/* token68 values end in '=' padding */
		while (sc->i < sc->n && (is_tchar((unsigned char)sc->s[sc->i]) || sc->s[sc->i] == '='))
			sc->i++;
		wl_buf_put(&b, sc->s + start, sc->i - start);
	}
	char *out;
	if (wl_buf_finish(&b, &out, NULL) != 0)
		return NULL;
	return out;
}

void wl__auth_challenges_release(wl__auth_challenge *c, int count)
{
	for (int i = 0; i < count; i++) {
		free(c[i].realm);
		free(c[i].service);
		free(c[i].scope);
		memset(&c[i], 0, sizeof c[i]);
	}
}

int wl__auth_parse_challenges(const char *v, size_t len, wl__auth_challenge *out)
{
	scanner sc = {v, len, 0};
	int count = 0;
	wl__auth_challenge *cur = NULL;
	while (sc.i < sc.n && count <= WL__AUTH_CHALLENGES_MAX) {
		unsigned char c = (unsigned char)sc.s[sc.i];
		if (is_space(c) || c == ',') {
			sc.i++;
			continue;
		}
		size_t at = sc.i;
		size_t tn = token(&sc);
		if (tn == 0) {
			sc.i++; /* not a token: skip the byte */
			continue;
		}
		size_t after = sc.i;
		skip_spaces(&sc);
		bool param = sc.i < sc.n && sc.s[sc.i] == '=';
		if (!param) {
			/* a new challenge: "scheme" */
			if (count == WL__AUTH_CHALLENGES_MAX)
				break;
			cur = &out[count++];
			memset(cur, 0, sizeof *cur);
			cur->scheme = word_is(v + at, tn, "basic")    ? WL__AUTH_BASIC
			              : word_is(v + at, tn, "bearer") ? WL__AUTH_BEARER
			                                              : WL__AUTH_OTHER;
			sc.i = after;
			continue;
		}
		sc.i++; /* '=' */
		skip_spaces(&sc);
		char *val = value(&sc);
		if (val == NULL) {
			wl__auth_challenges_release(out, count);
			return wl__nomem();
		}
		char **slot = NULL;
		if (cur != NULL && word_is(v + at, tn, "realm"))
			slot = &cur->realm;
		else if (cur != NULL && word_is(v + at, tn, "service"))
			slot = &cur->service;
		else if (cur != NULL && word_is(v + at, tn, "scope"))
			slot = &cur->scope;
		if (slot != NULL && *slot == NULL)
			*slot = val;
		else
			free(val);
	}
	return count;
}

/* ---- tokens ---- */

static const wl__json_key token_keys[] = {
	WL__JSON_KEY("token", "TOKEN"),
	WL__JSON_KEY("access_token", "ACCESS_TOKEN"),
	WL__JSON_KEY("expires_in", "EXPIRES_IN"),
};

int wl__auth_parse_token(const char *body, size_t len, char **token_out, int64_t *expires_in)
{
	*token_out = NULL;
	*expires_in = 60;
	wl_storage *st = wl_storage_new();
	char *copy = malloc(len + 1);
	if (st == NULL || copy == NULL) {
		wl_storage_free(st);
		free(copy);
		return wl__nomem();
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	wl__json_reader r;
	wl__json_init(&r, copy, len, "the token server's answer", st);
	static const wl__json_ctx self = {"TokenResponse", NULL, "object"};
	static const wl__json_ctx str = {"TokenResponse", "token", "string"};
	static const wl__json_ctx num = {"TokenResponse", "expires_in", "int"};
	wl_string tok = {NULL, 0}, access = {NULL, 0};
	int64_t exp = 0;
	int open = wl__json_open_top(&r, &self);
	bool ok = open >= 0, first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(&r, &first, &key)) != 0;) {
		if (m < 0) {
			ok = false;
			break;
		}
		switch (wl__json_match_key(token_keys, 3, key.ptr, key.len)) {
		case 0:
			ok = wl__json_read_string(&r, &str, &tok);
			break;
		case 1:
			ok = wl__json_read_string(&r, &str, &access);
			break;
		case 2:
			ok = wl__json_read_int(&r, &num, &exp);
			break;
		default:
			ok = wl__json_skip_value(&r);
		}
	}
	int rc = wl__json_finish(&r, ok);
	if (rc == 0) {
		wl_string t = tok.len > 0 ? tok : access;
		if (t.len == 0)
			rc = wl__fail(WL_EPARSE, "the token server's answer holds no token");
		else if (!wl__b64token_valid(t.ptr, t.len))
			/* It goes into a header: a CR LF in it would smuggle others. */
			rc = wl__fail(WL_EPARSE, "the token server's token is not an RFC 6750 b64token (%zu bytes; not shown)",
			              t.len);
		else if ((*token_out = strndup(t.ptr, t.len)) == NULL)
			rc = wl__nomem();
		if (exp >= 60)
			*expires_in = exp;
	}
	wl_storage_free(st);
	free(copy);
	return rc;
}

/* ---- credentials ---- */

void wl__credentials_release(wl__credentials *c)
{
	if (c->password != NULL)
		OPENSSL_cleanse(c->password, strlen(c->password));
	free(c->username);
	free(c->password);
	free(c->source);
	c->username = c->password = c->source = NULL;
}

char *wl__auth_basic(const wl__credentials *c)
{
	size_t ul = strlen(c->username), pl = strlen(c->password);
	size_t n = ul + 1 + pl;
	unsigned char *plain = malloc(n + 1);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (plain == NULL || out == NULL) {
		free(plain);
		free(out);
		return NULL;
	}
	memcpy(plain, c->username, ul);
	plain[ul] = ':';
	memcpy(plain + ul + 1, c->password, pl);
	EVP_EncodeBlock((unsigned char *)out, plain, (int)n);
	OPENSSL_cleanse(plain, n);
	free(plain);
	return out;
}

/* "https://host/v1/" -> "host"; docker.io's aliases are one name. */
static bool key_matches(wl_string key, const char *host)
{
	const char *k = key.ptr;
	size_t n = key.len;
	if (n >= 8 && strncmp(k, "https://", 8) == 0) {
		k += 8;
		n -= 8;
	} else if (n >= 7 && strncmp(k, "http://", 7) == 0) {
		k += 7;
		n -= 7;
	}
	const char *slash = memchr(k, '/', n);
	if (slash != NULL)
		n = (size_t)(slash - k);
	static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
	bool key_hub = false, host_hub = false;
	for (size_t i = 0; i < 3; i++) {
		key_hub |= strlen(hub[i]) == n && strncmp(k, hub[i], n) == 0;
		host_hub |= strcmp(host, hub[i]) == 0;
	}
	if (key_hub && host_hub)
		return true;
	return strlen(host) == n && strncmp(k, host, n) == 0;
}

/* "user:password" decoded from base64 into c. */
static int decode_auth(wl__credentials *c, wl_string auth, const char *file)
{
	size_t cap = 3 * (auth.len / 4) + 3;
	unsigned char *plain = malloc(cap + 1);
	if (plain == NULL)
		return wl__nomem();
	int n = auth.len % 4 == 0 ? EVP_DecodeBlock(plain, (const unsigned char *)auth.ptr, (int)auth.len) : -1;
	if (n >= 0) {
		/* EVP_DecodeBlock counts the '=' padding as zero bytes */
		for (size_t i = auth.len; i > 0 && auth.ptr[i - 1] == '=' && n > 0; i--)
			n--;
		plain[n] = '\0';
	}
	char *colon = n > 0 ? memchr(plain, ':', (size_t)n) : NULL;
	if (colon == NULL) {
		if (n > 0)
			OPENSSL_cleanse(plain, (size_t)n);
		free(plain);
		return wl__fail(WL_EINVALID, "%s: an \"auth\" value is not base64 of user:password", file);
	}
	*colon = '\0';
	c->username = strdup((char *)plain);
	c->password = strdup(colon + 1);
	OPENSSL_cleanse(plain, (size_t)n);
	free(plain);
	return c->username && c->password ? 0 : wl__nomem();
}

static bool helper_name_ok(wl_string name)
{
	if (name.len == 0 || name.len > 64)
		return false;
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

static const wl__json_key helper_keys[] = {
	WL__JSON_KEY("Username", "USERNAME"),
	WL__JSON_KEY("Secret", "SECRET"),
};

static double helper_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the helper's stdout into `out` and its stderr into `err` (each at
 * most 64 KiB; more sets *too_long) until both end or the deadline passes
 * (*late). */
static void read_helper(int out_fd, int err_fd, wl_buf *out, wl_buf *err, double deadline, bool *too_long,
                        bool *late)
{
	struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	wl_buf *bufs[2] = {out, err};
	char chunk[4096];
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		double left = deadline - helper_now();
		if (left <= 0) {
			*late = true;
			return;
		}
		int ready = poll(fds, 2, left > 1 ? 1000 : (int)(left * 1000) + 1);
		if (ready < 0 && errno != EINTR)
			return;
		for (int i = 0; i < 2 && ready > 0; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				continue;
			}
			if (bufs[i]->len + (size_t)n > 65536) {
				if (i == 0) {
					*too_long = true;
					return;
				}
				continue; /* a chatty stderr is cut, not fatal */
			}
			wl_buf_put(bufs[i], chunk, (size_t)n);
		}
	}
}

/* Runs docker-credential-NAME get for host, with a deadline. The host goes
 * in through a socket (send with MSG_NOSIGNAL: a helper that exits without
 * reading costs no SIGPIPE, and no process-wide signal disposition is
 * touched while other threads run); its answer and its complaints come
 * back apart, so only stdout is parsed. */
static int run_helper(wl__credentials *c, wl_string name, const char *host, double timeout, bool *missing)
{
	*missing = false;
	if (!helper_name_ok(name))
		return wl__fail(WL_EINVALID, "credential helper name \"%.*s\" is not a plain name", (int)name.len,
		                name.ptr);
	char prog[96];
	snprintf(prog, sizeof prog, "docker-credential-%.*s", (int)name.len, name.ptr);
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (out[i] >= 0)
				close(out[i]);
			if (err[i] >= 0)
				close(err[i]);
		}
		return wl__fail_errno(WL_EIO, e, "%s", prog);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	char *argv[] = {prog, "get", NULL};
	pid_t pid;
	int se = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (se != 0) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		if (se == ENOENT) {
			*missing = true; /* not on PATH */
			return 0;
		}
		return wl__fail_errno(WL_EINVALID, se, "credential helper %s", prog);
	}
	/* The host is a few bytes: one send into an empty socket never blocks. */
	ssize_t w = send(in[1], host, strlen(host), MSG_NOSIGNAL);
	(void)w;
	close(in[1]);
	wl_buf b, eb;
	wl_buf_init(&b);
	wl_buf_init(&eb);
	bool too_long = false, late = false;
	read_helper(out[0], err[0], &b, &eb, helper_now() + (timeout > 0 ? timeout : 30), &too_long, &late);
	close(out[0]);
	close(err[0]);
	if (late || too_long)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char *complaint = NULL;
	if (wl_buf_finish(&eb, &complaint, NULL) != 0)
		complaint = NULL;
	if (late) {
		wl_buf_release(&b);
		free(complaint);
		return wl__fail(WL_EINVALID, "credential helper %s did not answer within %g s", prog,
		                timeout > 0 ? timeout : 30);
	}
	char *text;
	size_t len;
	if (wl_buf_finish(&b, &text, &len) != 0)
		return wl__nomem();
	int rc = 0;
	if (too_long) {
		rc = wl__fail(WL_EINVALID, "credential helper %s: answer longer than 64 KiB", prog);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* "credentials not found in native keychain" (on stdout, as docker's
		 * helpers say it, or stderr): nothing stored */
		const char *says = complaint != NULL && complaint[0] != '\0' ? complaint : text;
		if (strstr(text, "not found") == NULL && (complaint == NULL || strstr(complaint, "not found") == NULL)) {
			/* its first line, as one short printable line */
			char said[160];
			size_t n = 0;
			for (const char *q = says; *q && *q != '\n' && n < sizeof said - 1; q++)
				said[n++] = (unsigned char)*q < 0x20 || *q == 0x7f ? ' ' : *q;
			said[n] = '\0';
			rc = wl__fail(WL_EINVALID, "credential helper %s failed (exit status %d)%s%s", prog,
			              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), n ? ": " : "",
			              said);
		}
	} else {
		wl_storage *st = wl_storage_new();
		if (st == NULL) {
			OPENSSL_cleanse(text, len);
			free(text);
			return wl__nomem();
		}
		wl__json_reader r;
		wl__json_init(&r, text, len, prog, st);
		static const wl__json_ctx self = {"Credentials", NULL, "object"};
		static const wl__json_ctx str = {"Credentials", "Secret", "string"};
		wl_string user = {NULL, 0}, secret = {NULL, 0};
		int open = wl__json_open_top(&r, &self);
		bool ok = open >= 0, first = true;
		wl_string key;
		for (int m; ok && open == 1 && (m = wl__json_next_member(&r, &first, &key)) != 0;) {
			if (m < 0) {
				ok = false;
				break;
			}
			int k = wl__json_match_key(helper_keys, 2, key.ptr, key.len);
			ok = k == 0   ? wl__json_read_string(&r, &str, &user)
			     : k == 1 ? wl__json_read_string(&r, &str, &secret)
			              : wl__json_skip_value(&r);
		}
		rc = wl__json_finish(&r, ok);
		if (rc != 0) {
			rc = wl__fail(WL_EINVALID, "credential helper %s: its answer is not the JSON it should be", prog);
		} else if (secret.len > 0) {
			c->username = strndup(user.ptr ? user.ptr : "", user.len);
			c->password = strndup(secret.ptr, secret.len);
			if (c->username == NULL || c->password == NULL)
				rc = wl__nomem();
		}
		if (secret.len > 0)
			OPENSSL_cleanse((void *)(uintptr_t)secret.ptr, secret.len);
		wl_storage_free(st);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	free(complaint);
	return rc;
}

static const wl__json_key file_keys[] = {
	WL__JSON_KEY("auths", "AUTHS"),
	WL__JSON_KEY("credHelpers", "CREDHELPERS"),
	WL__JSON_KEY("credsStore", "CREDSSTORE"),
};
static const wl__json_key entry_keys[] = {
	WL__JSON_KEY("auth", "AUTH"),
	WL__JSON_KEY("username", "USERNAME"),
	WL__JSON_KEY("password", "PASSWORD"),
};

/* One "auths" member's object. */
static bool read_auth_entry(wl__json_reader *r, wl__auth_config *f, bool mine)
{
	static const wl__json_ctx self = {"AuthConfig", "auths", "object"};
	static const wl__json_ctx str = {"AuthConfig", "auths.auth", "string"};
	int open = wl__json_open_object(r, &self);
	if (open < 0)
		return false;
	bool ok = true, first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(r, &first, &key)) != 0;) {
		if (m < 0)
			return false;
		int k = mine ? wl__json_match_key(entry_keys, 3, key.ptr, key.len) : -1;
		ok = k == 0   ? wl__json_read_string(r, &str, &f->auth)
		     : k == 1 ? wl__json_read_string(r, &str, &f->user)
		     : k == 2 ? wl__json_read_string(r, &str, &f->pass)
		              : wl__json_skip_value(r);
	}
	if (mine)
		f->in_auths = true;
	return ok;
}

/* An object of host -> value, reading the value of the member matching host. */
static bool read_hosts(wl__json_reader *r, wl__auth_config *f, const char *host, bool helpers)
{
	static const wl__json_ctx self = {"ConfigFile", "auths", "object"};
	static const wl__json_ctx str = {"ConfigFile", "credHelpers", "string"};
	int open = wl__json_open_object(r, &self);
	if (open < 0)
		return false;
	bool ok = true, first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(r, &first, &key)) != 0;) {
		if (m < 0)
			return false;
		/* the key is in place until the next read: match it first */
		bool mine = key_matches(key, host);
		if (helpers)
			ok = mine && f->helper.len == 0 ? wl__json_read_string(r, &str, &f->helper) : wl__json_skip_value(r);
		else
			ok = read_auth_entry(r, f, mine && !f->in_auths);
	}
	return ok;
}

int wl__auth_parse_config(wl__auth_config *f, char *text, size_t len, const char *name, const char *host,
                          wl_storage *st)
{
	memset(f, 0, sizeof *f);
	wl__json_reader r;
	wl__json_init(&r, text, len, name, st);
	static const wl__json_ctx self = {"ConfigFile", NULL, "object"};
	static const wl__json_ctx str = {"ConfigFile", "credsStore", "string"};
	int open = wl__json_open_top(&r, &self);
	bool ok = open >= 0, first = true;
	wl_string key;
	for (int m; ok && open == 1 && (m = wl__json_next_member(&r, &first, &key)) != 0;) {
		if (m < 0) {
			ok = false;
			break;
		}
		switch (wl__json_match_key(file_keys, 3, key.ptr, key.len)) {
		case 0:
			ok = read_hosts(&r, f, host, false);
			break;
		case 1:
			ok = read_hosts(&r, f, host, true);
			break;
		case 2:
			ok = wl__json_read_string(&r, &str, &f->store);
			break;
		default:
			ok = wl__json_skip_value(&r);
		}
	}
	if (wl__json_finish(&r, ok) == 0)
		return 0;
	/* The reader's message may quote a byte of the file (a password's):
	 * only what is wrong and where. */
	if (r.syntax_failed)
		return wl__fail(WL_EINVALID, "%s is not a valid credentials file: not valid JSON at byte %zu", name,
		                r.pos < r.len ? r.pos : r.len);
	if (r.type_failed && !r.hard_failed)
		return wl__fail(WL_EINVALID, "%s is not a valid credentials file: %s (at byte %zu)", name, r.type_msg,
		                r.type_at);
	return wl__fail(WL_EINVALID, "%s is not a valid credentials file", name);
}

/* Runs the helper `kind` ("credHelpers", "credsStore") of `path` names;
 * its errors and its absence name both. */
static int helper_of_file(wl__credentials *c, wl_string name, const char *kind, const char *path, const char *host,
                          double timeout, wl_notice_fn notice, void *notice_ctx, bool *missing)
{
	int rc = run_helper(c, name, host, timeout, missing);
	if (rc != 0) {
		char *msg = strdup(wl_error_last()->message);
		if (msg != NULL)
			rc = wl__fail(rc, "%s (the %s of %s)", msg, kind, path);
		free(msg);
		return rc;
	}
	char shown[80];
	snprintf(shown, sizeof shown, "%.*s", (int)name.len, name.ptr);
	if (*missing && notice != NULL) {
		char *line = NULL;
		if (asprintf(&line, "credential helper docker-credential-%s (the %s of %s) is not installed: trying %s "
		                    "anonymously",
		             shown, kind, path, host) >= 0) {
			notice(notice_ctx, WL_NOTICE_WARNING, line);
			free(line);
		}
	}
	if (c->username != NULL && asprintf(&c->source, "docker-credential-%s (the %s of %s)", shown, kind, path) < 0)
		c->source = NULL;
	return 0;
}

static int lookup_file(wl__credentials *c, const char *path, const char *host, bool *done, double timeout,
                       wl_notice_fn notice, void *notice_ctx)
{
	char *text = NULL;
	size_t len = 0;
	int rc = wl_read_file(&text, &len, path, 1 << 20);
	if (rc == WL_ENOTFOUND) {
		wl_error_clear();
		return 0;
	}
	if (rc != 0)
		return rc;
	wl_storage *st = wl_storage_new();
	if (st == NULL) {
		free(text);
		return wl__nomem();
	}
	wl__auth_config f;
	bool missing = false;
	rc = wl__auth_parse_config(&f, text, len, path, host, st);
	if (rc != 0) {
		/* nothing of the file in the message */
	} else if (f.helper.len > 0) {
		rc = helper_of_file(c, f.helper, "credHelpers", path, host, timeout, notice, notice_ctx, &missing);
		*done = !missing;
	} else if (f.in_auths && f.auth.len > 0) {
		rc = decode_auth(c, f.auth, path);
		*done = true;
	} else if (f.in_auths && f.user.len > 0) {
		c->username = strndup(f.user.ptr, f.user.len);
		c->password = strndup(f.pass.ptr ? f.pass.ptr : "", f.pass.len);
		rc = c->username && c->password ? 0 : wl__nomem();
		*done = true;
	} else if (f.store.len > 0) {
		rc = helper_of_file(c, f.store, "credsStore", path, host, timeout, notice, notice_ctx, &missing);
		*done = c->username != NULL;
	}
	if (rc == 0 && *done && c->username != NULL && c->source == NULL && (c->source = strdup(path)) == NULL)
		rc = wl__nomem();
	OPENSSL_cleanse(text, len);
	free(text);
	wl_storage_free(st);
	return rc;
}

int wl__auth_lookup(wl__credentials *out, const char *const *files, size_t file_count, const char *host)
{
	return wl__auth_lookup_timeout(out, files, file_count, host, 30);
}

int wl__auth_lookup_timeout(wl__credentials *out, const char *const *files, size_t file_count, const char *host,
                            double timeout)
{
	return wl__auth_lookup_noting(out, files, file_count, host, timeout, NULL, NULL);
}

int wl__auth_lookup_noting(wl__credentials *out, const char *const *files, size_t file_count, const char *host,
                           double timeout, wl_notice_fn notice, void *notice_ctx)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < file_count; i++) {
		bool done = false;
		int rc = lookup_file(out, files[i], host, &done, timeout, notice, notice_ctx);
		if (rc != 0) {
			wl__credentials_release(out);
			return rc;
		}
		if (done)
			return 0;
	}
	return 0;
}
