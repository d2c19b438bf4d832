/*
 * test_auth.c - registry authentication (SPEC.md §18.2): WWW-Authenticate
 * challenges as RFC 7235 writes them, token server answers, credentials
 * files (auths, credHelpers, credsStore) and the registry's error bodies.
 */
#include "harness.h"

#include <time.h>
#include "net/auth.h"
#include "net/registry.h"
#include "pack_fixture.h"

#include <sys/stat.h>

static int parse(wl__auth_challenge *c, const char *v)
{
	return wl__auth_parse_challenges(v, strlen(v), c);
}

TEST(a_bearer_challenge_with_quoted_values)
{
	wl__auth_challenge c[WL__AUTH_CHALLENGES_MAX];
	int n = parse(c, "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
	                 "scope=\"repository:a/b:pull,push\"");
	CHECK_INT(n, 1);
	CHECK_INT(c[0].scheme, WL__AUTH_BEARER);
	CHECK_STR(c[0].realm, "https://auth.example/token");
	CHECK_STR(c[0].service, "registry.example");
	CHECK_STR(c[0].scope, "repository:a/b:pull,push"); /* a comma inside quotes */
	wl__auth_challenges_release(c, n);
}

TEST(several_challenges_in_one_value_and_case_insensitive_names)
{
	wl__auth_challenge c[WL__AUTH_CHALLENGES_MAX];
	/* RFC 7235 §4.1's example shape: a scheme with a token68, then others */
	int n = parse(c, "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", BASIC REALM=simple, "
	                 "bearer  Realm = \"http://t/x\" , Service=s");
	CHECK_INT(n, 3);
	CHECK_INT(c[0].scheme, WL__AUTH_OTHER);
	CHECK_STR(c[0].realm, "apps");
	CHECK_INT(c[1].scheme, WL__AUTH_BASIC);
	CHECK_STR(c[1].realm, "simple");
	CHECK_INT(c[2].scheme, WL__AUTH_BEARER);
	CHECK_STR(c[2].realm, "http://t/x");
	CHECK_STR(c[2].service, "s");
	CHECK(c[2].scope == NULL);
	wl__auth_challenges_release(c, n);
}

TEST(odd_challenges_parse_to_what_they_hold)
{
	wl__auth_challenge c[WL__AUTH_CHALLENGES_MAX];
	CHECK_INT(parse(c, ""), 0);
	CHECK_INT(parse(c, " , ,, "), 0);
	int n = parse(c, "Negotiate abc==, Bearer realm=\"unterminated");
	CHECK_INT(n, 2);
	CHECK_INT(c[1].scheme, WL__AUTH_BEARER);
	CHECK_STR(c[1].realm, "unterminated");
	wl__auth_challenges_release(c, n);
	/* params before any scheme are dropped; duplicates keep the first */
	n = parse(c, "realm=x, Bearer realm=a, realm=b");
	CHECK_INT(n, 1);
	CHECK_STR(c[0].realm, "a");
	wl__auth_challenges_release(c, n);
	/* many challenges: at most the bound is kept */
	char many[4096] = "";
	for (int i = 0; i < 50; i++)
		strcat(many, "Basic realm=r, ");
	n = parse(c, many);
	CHECK_INT(n, WL__AUTH_CHALLENGES_MAX);
	wl__auth_challenges_release(c, n);
}

TEST(token_answers)
{
	char *tok = NULL;
	int64_t exp = 0;
	const char *a = "{\"token\":\"T1\",\"access_token\":\"A1\",\"expires_in\":300}";
	CHECK_OK(wl__auth_parse_token(a, strlen(a), &tok, &exp));
	CHECK_STR(tok, "T1");
	CHECK_INT(exp, 300);
	free(tok);
	const char *b = "{\"access_token\":\"A2\",\"expires_in\":5}";
	CHECK_OK(wl__auth_parse_token(b, strlen(b), &tok, &exp));
	CHECK_STR(tok, "A2");
	CHECK_INT(exp, 60); /* below the spec's minimum of 60 s */
	free(tok);
	const char *c = "{\"expires_in\":300}";
	CHECK_ERR(wl__auth_parse_token(c, strlen(c), &tok, &exp), WL_EPARSE, "no token");
	const char *d = "<html>";
	CHECK_ERR(wl__auth_parse_token(d, strlen(d), &tok, &exp), WL_EPARSE, "token server");
}

static char *file_in(const char *dir, const char *name, const char *text)
{
	if (fx_write(dir, name, text, strlen(text)) != 0)
		return NULL;
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

TEST(credentials_from_auths_in_either_form_and_key_spelling)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	/* "alice:s3:cret" in base64; the key with scheme and path, as docker writes */
	char *a = file_in(dir, "a.json",
	                  "{\"auths\":{\"other:5000\":{\"auth\":\"eDp5\"},"
	                  "\"https://reg.example:5000/v1/\":{\"auth\":\"YWxpY2U6czM6Y3JldA==\"}}}");
	char *b = file_in(dir, "b.json", "{\"auths\":{\"reg.example:5000\":{\"username\":\"bob\",\"password\":\"pw\"}}}");
	char *missing = malloc(strlen(dir) + 20);
	sprintf(missing, "%s/none.json", dir);
	wl__credentials c;
	const char *files[] = {missing, a, b};
	CHECK_OK(wl__auth_lookup(&c, files, 3, "reg.example:5000"));
	CHECK_STR(c.username, "alice");
	CHECK_STR(c.password, "s3:cret"); /* only the first colon splits */
	char *basic = wl__auth_basic(&c);
	CHECK_STR(basic, "YWxpY2U6czM6Y3JldA==");
	free(basic);
	wl__credentials_release(&c);
	const char *only_b[] = {b};
	CHECK_OK(wl__auth_lookup(&c, only_b, 1, "reg.example:5000"));
	CHECK_STR(c.username, "bob");
	CHECK_STR(c.password, "pw");
	wl__credentials_release(&c);
	/* another host: anonymous */
	CHECK_OK(wl__auth_lookup(&c, files, 3, "elsewhere"));
	CHECK(c.username == NULL);
	/* docker.io's names are one */
	char *d = file_in(dir, "d.json", "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"eDp5\"}}}");
	const char *only_d[] = {d};
	CHECK_OK(wl__auth_lookup(&c, only_d, 1, "registry-1.docker.io"));
	CHECK_STR(c.username, "x");
	CHECK_STR(c.password, "y");
	wl__credentials_release(&c);
	free(a);
	free(b);
	free(d);
	free(missing);
	fx_remove(dir);
}

TEST(bad_credentials_files_are_errors_that_show_no_secret)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	char *bad = file_in(dir, "bad.json", "{\"auths\":{\"h\":{\"auth\":\"c2VjcmV0\"}} trailing");
	char *b64 = file_in(dir, "b64.json", "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}"); /* "nocolon" */
	char *name = file_in(dir, "name.json", "{\"credHelpers\":{\"h\":\"../../bin/sh\"}}");
	wl__credentials c;
	const char *f1[] = {bad};
	CHECK_ERR(wl__auth_lookup(&c, f1, 1, "h"), WL_EINVALID, "is not a valid credentials file");
	CHECK(strstr(wl_error_last()->message, "c2VjcmV0") == NULL);
	const char *f2[] = {b64};
	CHECK_ERR(wl__auth_lookup(&c, f2, 1, "h"), WL_EINVALID, "not base64 of user:password");
	CHECK(strstr(wl_error_last()->message, "nocolon") == NULL);
	const char *f3[] = {name};
	CHECK_ERR(wl__auth_lookup(&c, f3, 1, "h"), WL_EINVALID, "is not a plain name");
	free(bad);
	free(b64);
	free(name);
	fx_remove(dir);
}

/* A lookup in the file NAME holding `text` fails with every part of
 * `want` ("|"-separated) in its message, and none of `secret`. */
static void check_bad_file(const char *dir, const char *name, const char *text, const char *want,
                           const char *secret)
{
	char *path = file_in(dir, name, text);
	const char *files[] = {path};
	wl__credentials c;
	int rc = path != NULL ? wl__auth_lookup(&c, files, 1, "h") : -1;
	const char *msg = wl_error_last()->message;
	bool ok = rc == WL_EINVALID && strstr(msg, secret) == NULL;
	for (const char *w = want; ok && *w != '\0';) {
		size_t n = strcspn(w, "|");
		char part[256];
		snprintf(part, sizeof part, "%.*s", (int)n, w);
		ok = strstr(msg, part) != NULL;
		w += n + (w[n] == '|');
	}
	if (!ok)
		HARNESS_FAIL("%s: rc %d: %s", name, rc, msg);
	free(path);
}

TEST(a_credentials_file_that_is_not_json_is_named_with_the_byte_offset_and_no_byte_of_it)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	/* a control character inside a secret: where, never what */
	check_bad_file(dir, "bad.json", "{\"auths\":{\"h\":{\"auth\":\"c2Vj\x01cmV0\"}}}",
	               "bad.json is not a valid credentials file: not valid JSON at byte 27", "c2Vj");
	check_bad_file(dir, "cut.json", "{\"auths\":{", "cut.json is not a valid credentials file: not valid JSON at byte 10",
	               "auths\":{");
	check_bad_file(dir, "typed.json", "{\"credsStore\": 7}",
	               "typed.json is not a valid credentials file: |credsStore|(at byte 15)", "\x01");
	fx_remove(dir);
}

typedef struct notices {
	int count;
	wl_notice_level level;
	char last[512];
} notices;

static void take_notice(void *ctx, wl_notice_level level, const char *message)
{
	notices *n = ctx;
	n->count++;
	n->level = level;
	snprintf(n->last, sizeof n->last, "%s", message);
}

/* Looking HOST up in the one credentials file FILES[0] succeeds and finds
 * nothing: the registry is asked anonymously. */
static void check_anonymous(const char **files, const char *host)
{
	wl__credentials c;
	CHECK_OK(wl__auth_lookup(&c, files, 1, host));
	CHECK(c.username == NULL);
	wl__credentials_release(&c);
}

TEST(a_credential_helper_that_is_not_installed_is_a_warning_and_nothing_found)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	char *store = file_in(dir, "store.json", "{\"auths\":{\"h\":{}},\"credsStore\":\"wl-not-installed\"}");
	char *helpers = file_in(dir, "helpers.json", "{\"credHelpers\":{\"h\":\"wl-not-installed\"}}");
	char *later = file_in(dir, "later.json", "{\"auths\":{\"h\":{\"auth\":\"eDp5\"}}}");
	wl__credentials c;
	notices n = {0};
	const char *f1[] = {store};
	CHECK_OK(wl__auth_lookup_noting(&c, f1, 1, "h", 5, take_notice, &n));
	CHECK(c.username == NULL);
	CHECK_INT(n.count, 1);
	CHECK_INT(n.level, WL_NOTICE_WARNING);
	char want[1024];
	snprintf(want, sizeof want,
	         "credential helper docker-credential-wl-not-installed (the credsStore of %s) is not installed: trying h "
	         "anonymously",
	         store);
	CHECK_STR(n.last, want);
	/* credHelpers: the same, and a later file still counts */
	const char *f2[] = {helpers, later};
	CHECK_OK(wl__auth_lookup_noting(&c, f2, 2, "h", 5, take_notice, &n));
	CHECK_INT(n.count, 2);
	CHECK(strstr(n.last, "(the credHelpers of ") != NULL);
	CHECK_STR(c.username, "x");
	CHECK_STR(c.source, later);
	wl__credentials_release(&c);
	/* without a notice callback: silently anonymous */
	check_anonymous(f1, "h");
	free(store);
	free(helpers);
	free(later);
	fx_remove(dir);
}

/* Puts `dir` first on PATH (where helpers are looked up); returns the old
 * PATH for path_restore. */
static char *path_prepend(const char *dir)
{
	const char *path = getenv("PATH");
	char *old = strdup(path ? path : "");
	char *newpath = malloc(strlen(dir) + strlen(old ? old : "") + 2);
	if (old == NULL || newpath == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	sprintf(newpath, "%s:%s", dir, old);
	setenv("PATH", newpath, 1);
	free(newpath);
	return old;
}

static void path_restore(char *old)
{
	setenv("PATH", old, 1);
	free(old);
}

TEST(a_credential_helper_is_asked_and_wins_over_auths)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	char *helper = file_in(dir, "docker-credential-wltest",
	                       "#!/bin/sh\nread h\n"
	                       "if [ \"$h\" = none ]; then echo 'credentials not found in native keychain'; exit 1; fi\n"
	                       "printf '{\"ServerURL\":\"%s\",\"Username\":\"u-%s\",\"Secret\":\"p\"}' \"$h\" \"$h\"\n");
	chmod(helper, 0755);
	char *cfg = file_in(dir, "config.json",
	                    "{\"auths\":{\"h\":{\"auth\":\"eDp5\"},\"none\":{}},\"credHelpers\":{\"h\":\"wltest\","
	                    "\"none\":\"wltest\"}}");
	char *old = path_prepend(dir);
	wl__credentials c;
	const char *files[] = {cfg};
	CHECK_OK(wl__auth_lookup(&c, files, 1, "h"));
	CHECK_STR(c.username, "u-h");
	CHECK_STR(c.password, "p");
	char source[1024];
	snprintf(source, sizeof source, "docker-credential-wltest (the credHelpers of %s)", cfg);
	CHECK_STR(c.source, source);
	wl__credentials_release(&c);
	/* "not found": anonymous, not an error */
	check_anonymous(files, "none");
	path_restore(old);
	free(helper);
	free(cfg);
	fx_remove(dir);
}

static int status_message(long status, const char *body, const char *want)
{
	wl__http_response resp;
	memset(&resp, 0, sizeof resp);
	resp.status = status;
	resp.body = (char *)body;
	resp.body_len = strlen(body);
	int rc = wl__registry_fail_status(WL_EIO, &resp, "PUT x");
	if (rc != WL_EIO || strcmp(wl_error_last()->message, want) != 0) {
		HARNESS_FAIL("got %s, want %s", wl_error_last()->message, want);
		return -1;
	}
	return 0;
}

TEST(a_credential_helper_has_a_deadline_and_its_stderr_is_kept_apart)
{
	char *dir = fx_tmpdir();
	CHECK(dir != NULL);
	char *slow = file_in(dir, "docker-credential-wlslow", "#!/bin/sh\nexec sleep 30\n");
	char *chatty = file_in(dir, "docker-credential-wlchatty",
	                       "#!/bin/sh\nread h\necho 'warning: {not json' >&2\n"
	                       "printf '{\"Username\":\"u\",\"Secret\":\"s\"}'\necho 'more noise' >&2\n");
	chmod(slow, 0755);
	chmod(chatty, 0755);
	char *cfg = file_in(dir, "config.json", "{\"credHelpers\":{\"slow\":\"wlslow\",\"chatty\":\"wlchatty\"}}");
	char *old = path_prepend(dir);
	wl__credentials c;
	const char *files[] = {cfg};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = wl__auth_lookup_timeout(&c, files, 1, "slow", 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK_INT(rc, WL_EINVALID);
	CHECK(strstr(wl_error_last()->message, "docker-credential-wlslow did not answer within 1 s") != NULL);
	CHECK(took < 10);
	CHECK_OK(wl__auth_lookup_timeout(&c, files, 1, "chatty", 5));
	CHECK_STR(c.username, "u");
	CHECK_STR(c.password, "s");
	wl__credentials_release(&c);
	path_restore(old);
	free(slow);
	free(chatty);
	free(cfg);
	fx_remove(dir);
}

TEST(registry_errors_are_worded_from_their_json)
{
	CHECK_OK(status_message(400,
	                        "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"provided digest did not\\nmatch\","
	                        "\"detail\":{}},{\"code\":\"OTHER\"}]}",
	                        "PUT x: status 400: DIGEST_INVALID: provided digest did not match"));
	CHECK_OK(status_message(502, "  <html><body>Bad gateway</body></html>",
	                        "PUT x: status 502 (an HTML page, not the registry's answer: a proxy?)"));
	CHECK_OK(status_message(500, "{\"errors\":[]}", "PUT x: status 500"));
	CHECK_OK(status_message(500, "{not json", "PUT x: status 500"));
	CHECK_OK(status_message(404, "", "PUT x: status 404"));
}

TEST(tokens_that_are_not_b64tokens_are_refused_and_not_shown)
{
	char *tok = NULL;
	int64_t exp = 0;
	const char *a = "{\"token\":\"abc\\r\\nX-Evil: 1\",\"expires_in\":300}";
	CHECK_ERR(wl__auth_parse_token(a, strlen(a), &tok, &exp), WL_EPARSE, "not an RFC 6750 b64token");
	CHECK(strstr(wl_error_last()->message, "abc") == NULL && strstr(wl_error_last()->message, "Evil") == NULL);
	CHECK(tok == NULL);
	const char *b = "{\"access_token\":\"a b\"}";
	CHECK_ERR(wl__auth_parse_token(b, strlen(b), &tok, &exp), WL_EPARSE, "b64token");
	const char *c = "{\"token\":\"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln==\"}";
	CHECK_OK(wl__auth_parse_token(c, strlen(c), &tok, &exp));
	free(tok);
}

TEST(registry_error_codes_and_messages_are_one_line)
{
	CHECK_OK(status_message(400, "{\"errors\":[{\"code\":\"A\\nB\\u001b[31m\",\"message\":\"x\\ny\\r\\u007f\"}]}",
	                        "PUT x: status 400: A B [31m: x y  "));
	for (const char *m = wl_error_last()->message; *m != '\0'; m++)
		CHECK((unsigned char)*m >= 0x20 && (unsigned char)*m != 0x7f);
}

TEST(an_upload_resumes_only_within_what_was_sent)
{
	CHECK_INT(wl__registry_upload_next("0-999", 2000), 1000);
	CHECK_INT(wl__registry_upload_next("bytes=0-999", 2000), 1000);
	CHECK_INT(wl__registry_upload_next("0-0", 2000), 0);      /* empty, or one byte: start over */
	CHECK_INT(wl__registry_upload_next("0-1999", 2000), 2000); /* all of it */
	CHECK_INT(wl__registry_upload_next("0-2000", 2000), 0);   /* claims more than was sent */
	CHECK_INT(wl__registry_upload_next("0-9223372036854775807", 2000), 0);
	CHECK_INT(wl__registry_upload_next("0-99999999999999999999999", INT64_MAX), 0);
	CHECK_INT(wl__registry_upload_next("0-9223372036854775806", INT64_MAX), INT64_MAX);
	CHECK_INT(wl__registry_upload_next("0--5", 2000), 0);
	CHECK_INT(wl__registry_upload_next("5-10", 2000), 0);     /* not from the first byte */
	CHECK_INT(wl__registry_upload_next("0-10x", 2000), 0);
	CHECK_INT(wl__registry_upload_next("0-", 2000), 0);
	CHECK_INT(wl__registry_upload_next(NULL, 2000), 0);
}

TEST(repository_names)
{
	CHECK(wl__registry_repo_valid("a"));
	CHECK(wl__registry_repo_valid("org/model-1.v2/x__y"));
	CHECK(!wl__registry_repo_valid(""));
	CHECK(!wl__registry_repo_valid("Org/model"));
	CHECK(!wl__registry_repo_valid("a//b"));
	CHECK(!wl__registry_repo_valid("a/"));
	CHECK(!wl__registry_repo_valid("-a"));
	CHECK(!wl__registry_repo_valid("a/../b"));
	CHECK(!wl__registry_repo_valid("a:tag"));
}

int main(void)
{
	RUN(a_bearer_challenge_with_quoted_values);
	RUN(several_challenges_in_one_value_and_case_insensitive_names);
	RUN(odd_challenges_parse_to_what_they_hold);
	RUN(token_answers);
	RUN(credentials_from_auths_in_either_form_and_key_spelling);
	RUN(bad_credentials_files_are_errors_that_show_no_secret);
	RUN(a_credentials_file_that_is_not_json_is_named_with_the_byte_offset_and_no_byte_of_it);
	RUN(a_credential_helper_that_is_not_installed_is_a_warning_and_nothing_found);
	RUN(a_credential_helper_is_asked_and_wins_over_auths);
	RUN(a_credential_helper_has_a_deadline_and_its_stderr_is_kept_apart);
	RUN(registry_errors_are_worded_from_their_json);
	RUN(tokens_that_are_not_b64tokens_are_refused_and_not_shown);
	RUN(registry_error_codes_and_messages_are_one_line);
	RUN(an_upload_resumes_only_within_what_was_sent);
	RUN(repository_names);
	return harness_summary("auth");
}
