/*
 * test_http.c - the HTTP client (lib/net/http.c): bodies, ETags, resumed
 * downloads, retries and Retry-After, redirects and where Authorization
 * goes, cancellation, stalls, size bounds, TLS with an extra CA, and the
 * header parsers.
 *
 * Everything runs against tests/servers/httpd.py, started here on
 * 127.0.0.1 (ephemeral ports) and told which faults to inject through the
 * query string of each request; it counts requests per target, which is
 * how retries are checked. TLS uses a CA made with the openssl command at
 * test time.
 */
#include "harness.h"
#include "net/http.h"
#include "net/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define DATA_SIZE ((size_t)300000 + 123)

static char scratch[PATH_MAX];
static unsigned char *data; /* the served file data.bin */
static char data_sha[65];
static char data_etag[32];  /* "\"<16 hex>\"", as the server computes it */
static int port_main, port_other, port_tls;
static pid_t server_pid = -1;
static int server_stdin = -1;
static bool have_tls;
static char ca_path[PATH_MAX + 16];

/* ---- helpers ---- */

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", scratch, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

/* tests/servers/httpd.py, from the working directory or above this binary. */
static bool find_server(char *out, size_t cap)
{
	if (access("tests/servers/httpd.py", R_OK) == 0) {
		snprintf(out, cap, "tests/servers/httpd.py");
		return true;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 6; up++) {
		char *slash = strrchr(exe, '/');
		if (slash == NULL)
			return false;
		*slash = '\0';
		snprintf(out, cap, "%s/tests/servers/httpd.py", exe);
		if (access(out, R_OK) == 0)
			return true;
	}
	return false;
}

static bool make_tls_files(void)
{
	char cmd[8 * PATH_MAX];
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
	         "-out ca.pem -days 2 -subj /CN=weightslock-test-ca "
	         "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key "
	         "-out srv.csr -subj /CN=127.0.0.1 && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
	         "-days 2 -extfile ext.cnf",
	         scratch);
	char quiet[sizeof cmd + 32];
	snprintf(quiet, sizeof quiet, "(%s) >/dev/null 2>&1", cmd);
	if (system(quiet) != 0)
		return false;
	snprintf(ca_path, sizeof ca_path, "%s/ca.pem", scratch);
	return true;
}

static void start_server(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof scratch, "%s/wl-http-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	data = malloc(DATA_SIZE);
	uint32_t x = 12345;
	for (size_t i = 0; i < DATA_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	write_file("data.bin", data, DATA_SIZE);
	write_file("small.txt", "hello\n", 6);
	sha256_hex(data, DATA_SIZE, data_sha);
	snprintf(data_etag, sizeof data_etag, "\"%.16s\"", data_sha);
	have_tls = make_tls_files();

	char script[PATH_MAX + 64];
	if (!find_server(script, sizeof script)) {
		fprintf(stderr, "tests/servers/httpd.py not found\n");
		exit(2);
	}
	char cert[PATH_MAX + 16], key[PATH_MAX + 16];
	snprintf(cert, sizeof cert, "%s/srv.pem", scratch);
	snprintf(key, sizeof key, "%s/srv.key", scratch);
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0) {
		perror("pipe");
		exit(2);
	}
	server_pid = fork();
	if (server_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (have_tls)
			execlp("python3", "python3", script, scratch, "--cert", cert, "--key", key, (char *)NULL);
		else
			execlp("python3", "python3", script, scratch, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	server_stdin = in[1];
	char line[128];
	size_t len = 0;
	struct pollfd pfd = {out[0], POLLIN, 0};
	while (len < sizeof line - 1 && (len == 0 || line[len - 1] != '\n')) {
		if (poll(&pfd, 1, 15000) <= 0)
			break;
		ssize_t got = read(out[0], line + len, sizeof line - 1 - len);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	line[len] = '\0';
	close(out[0]);
	if (sscanf(line, "%d %d %d", &port_main, &port_other, &port_tls) != 3 || port_main <= 0) {
		fprintf(stderr, "the test server did not start (%s)\n", line);
		exit(2);
	}
	if (port_tls <= 0)
		have_tls = false;
}

static void stop_server(void)
{
	if (server_stdin >= 0)
		close(server_stdin);
	if (server_pid > 0) {
		int status;
		for (int i = 0; i < 50 && waitpid(server_pid, &status, WNOHANG) == 0; i++)
			usleep(20000);
		kill(server_pid, SIGKILL);
		waitpid(server_pid, &status, 0);
	}
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", scratch);
}

/* A client with short waits, so retries cost little time. */
static wl__http *client(int max_retries, const char *cacert)
{
	wl__http_options o;
	wl__http_options_init(&o);
	o.retry_base = 0.01;
	o.max_retries = max_retries;
	o.stall_timeout = 5;
	o.connect_timeout = 5;
	o.cacert = cacert;
	wl__http *h = NULL;
	if (wl__http_new(&h, &o) != 0) {
		fprintf(stderr, "wl__http_new: %s\n", wl_error_last()->message);
		exit(2);
	}
	return h;
}

static char *url_main(const char *target)
{
	static _Thread_local char buf[4][2048];
	static _Thread_local int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "http://127.0.0.1:%d%s", port_main, target);
	return b;
}

static void percent_encode(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s != '\0' && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
		    c == '.' || c == '_')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = '\0';
}

/* One value of what the server saw for a target ("count", "range", ...). */
static bool server_stat(int port, const char *target, const char *field, char *out, size_t cap)
{
	char key[2048], url[2400];
	percent_encode(target, key, sizeof key);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/_stats?key=%s", port, key);
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	bool ok = wl__http_perform(h, &rq, &rs) == 0 && rs.status == 200 && rs.body != NULL;
	if (ok) {
		char want[64];
		snprintf(want, sizeof want, "%s=", field);
		char *at = strstr(rs.body, want);
		ok = at != NULL;
		if (ok) {
			at += strlen(want);
			size_t n = strcspn(at, "\n");
			snprintf(out, cap, "%.*s", (int)n, at);
		}
	}
	wl__http_response_release(&rs);
	wl__http_free(h);
	return ok;
}

static long server_count(int port, const char *target)
{
	char v[32];
	return server_stat(port, target, "count", v, sizeof v) ? atol(v) : -1;
}

/* Connections the listener at `port` accepted (this one included). */
static long server_connections(int port)
{
	char url[128];
	bool tls = port == port_tls;
	snprintf(url, sizeof url, "%s://127.0.0.1:%d/_conns", tls ? "https" : "http", port);
	wl__http *h = client(0, tls ? ca_path : NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	long n = wl__http_perform(h, &rq, &rs) == 0 && rs.body != NULL ? atol(rs.body) : -1;
	wl__http_response_release(&rs);
	wl__http_free(h);
	return n;
}

/* A body sink that keeps everything, and counts restarts. */
typedef struct sink {
	unsigned char *p;
	size_t len, cap;
	int restarts;
	int fail_at_call; /* > 0: that call fails */
	int calls;
} sink;

static int sink_data(void *ctx, const void *p, size_t n)
{
	sink *s = ctx;
	if (++s->calls == s->fail_at_call)
		return wl__fail(WL_EINVALID, "the sink refused the bytes");
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

static int sink_restart(void *ctx)
{
	sink *s = ctx;
	s->restarts++;
	s->len = 0;
	return 0;
}

static bool sink_is_data(const sink *s)
{
	return s->len == DATA_SIZE && memcmp(s->p, data, DATA_SIZE) == 0;
}

/* GET into memory with a fresh client; returns the perform result. */
static int get(const char *target, int max_retries, wl__http_response *rs)
{
	wl__http *h = client(max_retries, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(target));
	int rc = wl__http_perform(h, &rq, rs);
	wl__http_free(h);
	return rc;
}

/* GET through the sink with a fresh client. */
static int get_streamed(const char *target, int max_retries, sink *s, bool with_restart, wl__http_response *rs)
{
	wl__http *h = client(max_retries, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(target));
	rq.on_data = sink_data;
	rq.on_restart = with_restart ? sink_restart : NULL;
	rq.ctx = s;
	int rc = wl__http_perform(h, &rq, rs);
	wl__http_free(h);
	return rc;
}

/* ---- bodies and headers ---- */

TEST(get_keeps_the_body_in_memory_with_its_headers)
{
	wl__http_response rs = {0};
	CHECK_OK(get("/f/data.bin", 0, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_INT(rs.body_len, DATA_SIZE);
	char sha[65];
	sha256_hex(rs.body, rs.body_len, sha);
	CHECK_STR(sha, data_sha);
	CHECK_INT(rs.content_length, DATA_SIZE);
	CHECK_STR(rs.content_type, "application/octet-stream");
	CHECK_STR(rs.etag, data_etag);
	CHECK_STR(rs.url, url_main("/f/data.bin"));
	CHECK_INT(rs.attempts, 1);
	CHECK(rs.link_next == NULL && rs.location == NULL && rs.retry_after < 0);
	wl__http_response_release(&rs);
	CHECK_INT(server_count(port_main, "/f/data.bin"), 1);
}

TEST(etag_is_kept_verbatim_strong_weak_or_absent)
{
	wl__http_response rs = {0};
	CHECK_OK(get("/f/small.txt?etag=weak", 0, &rs));
	CHECK(rs.etag != NULL && strncmp(rs.etag, "W/\"", 3) == 0);
	CHECK(!wl__http_etag_is_strong(rs.etag, strlen(rs.etag)));
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	CHECK_OK(get("/f/small.txt?etag=none", 0, &rs));
	CHECK(rs.etag == NULL);
	CHECK_OK(get("/f/small.txt", 0, &rs));
	CHECK(rs.etag != NULL && rs.etag[0] == '"' && wl__http_etag_is_strong(rs.etag, strlen(rs.etag)));
	wl__http_response_release(&rs);
}

TEST(head_gets_headers_and_no_body)
{
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_HEAD, url_main("/f/data.bin?t=head"));
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	wl__http_free(h);
	CHECK_INT(rs.status, 200);
	CHECK_INT(rs.body_len, 0);
	CHECK_INT(rs.content_length, DATA_SIZE);
	CHECK_STR(rs.etag, data_etag);
	wl__http_response_release(&rs);
}

TEST(on_data_gets_every_byte_in_order)
{
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_OK(get_streamed("/f/data.bin?t=stream", 0, &s, true, &rs));
	CHECK(sink_is_data(&s));
	CHECK_INT(rs.delivered, DATA_SIZE);
	CHECK(rs.body == NULL);
	CHECK_INT(s.restarts, 0);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(on_data_failure_ends_the_request_with_its_code)
{
	sink s = {0};
	s.fail_at_call = 2;
	wl__http_response rs = {0};
	CHECK_ERR(get_streamed("/f/data.bin?t=sinkfail", 3, &s, true, &rs), WL_EINVALID, "the sink refused the bytes");
	CHECK_INT(server_count(port_main, "/f/data.bin?t=sinkfail"), 1);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(link_next_is_resolved_and_registry_headers_are_kept)
{
	wl__http_response rs = {0};
	CHECK_OK(get("/f/small.txt?hdr=Link:%3C%3Fpage%3D2%3E%3B%20rel%3D%22next%22"
	             "&hdr=Docker-Content-Digest:sha256:abc&hdr=WWW-Authenticate:Basic%20realm%3D%22r%22",
	             0, &rs));
	CHECK_STR(rs.link_next, url_main("/f/small.txt?page=2"));
	CHECK_STR(rs.docker_content_digest, "sha256:abc");
	CHECK_STR(rs.www_authenticate, "Basic realm=\"r\"");
	wl__http_response_release(&rs);
}

TEST(uploads_send_their_body_with_the_method)
{
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_PUT, url_main("/echo"));
	rq.body = "put body";
	rq.body_len = 8;
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.body, rs.body_len, "PUT\nput body");
	rq = WL__HTTP_REQUEST_INIT(WL__HTTP_PATCH, url_main("/echo"));
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_MEM(rs.body, rs.body_len, "PATCH\n");
	wl__http_response_release(&rs);
	wl__http_free(h);
}

typedef struct reader {
	size_t pos;
	int rewinds;
} reader;

static int read_data(void *ctx, void *buf, size_t cap, size_t *got)
{
	reader *r = ctx;
	size_t n = DATA_SIZE - r->pos < cap ? DATA_SIZE - r->pos : cap;
	memcpy(buf, data + r->pos, n);
	r->pos += n;
	*got = n;
	return 0;
}

TEST(upload_from_a_read_callback)
{
	wl__http *h = client(0, NULL);
	reader r = {0, 0};
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_POST, url_main("/echo"));
	rq.read_body = read_data;
	rq.body_ctx = &r;
	rq.body_size = (int64_t)DATA_SIZE;
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_INT(rs.body_len, DATA_SIZE + 5);
	CHECK(memcmp(rs.body, "POST\n", 5) == 0 && memcmp(rs.body + 5, data, DATA_SIZE) == 0);
	wl__http_response_release(&rs);
	wl__http_free(h);
}

/* ---- resumption ---- */

TEST(dropped_download_resumes_with_range_and_if_range)
{
	const char *t = "/f/data.bin?drop=100000";
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_OK(get_streamed(t, 3, &s, true, &rs));
	CHECK(sink_is_data(&s));
	CHECK_INT(s.restarts, 0);
	CHECK_INT(rs.status, 206);
	CHECK_INT(rs.attempts, 2);
	CHECK_INT(server_count(port_main, t), 2);
	char v[128];
	CHECK(server_stat(port_main, t, "range", v, sizeof v));
	CHECK_STR(v, "bytes=100000-");
	CHECK(server_stat(port_main, t, "if_range", v, sizeof v));
	CHECK_STR(v, data_etag);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(resume_after_several_drops_delivers_the_file_once)
{
	const char *t = "/f/data.bin?drop=40000&drops=3";
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_OK(get_streamed(t, 5, &s, true, &rs));
	CHECK(sink_is_data(&s));
	CHECK_INT(server_count(port_main, t), 4);
	char v[128];
	CHECK(server_stat(port_main, t, "range", v, sizeof v));
	CHECK_STR(v, "bytes=120000-"); /* the ranged answers drop too */
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(resume_with_a_weak_etag_sends_no_if_range)
{
	const char *t = "/f/data.bin?etag=weak&drop=5000";
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_OK(get_streamed(t, 3, &s, true, &rs));
	CHECK(sink_is_data(&s));
	char v[128];
	CHECK(server_stat(port_main, t, "range", v, sizeof v));
	CHECK_STR(v, "bytes=5000-");
	CHECK(server_stat(port_main, t, "if_range", v, sizeof v));
	CHECK_STR(v, "");
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(resume_answered_with_200_restarts_the_sink)
{
	const char *t = "/f/data.bin?drop=100000&range=ignore";
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_OK(get_streamed(t, 3, &s, true, &rs));
	CHECK_INT(s.restarts, 1);
	CHECK(sink_is_data(&s));
	CHECK_INT(rs.status, 200);
	CHECK_INT(rs.delivered, DATA_SIZE);
	CHECK_INT(server_count(port_main, t), 2);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(resume_answered_with_200_fails_without_on_restart)
{
	sink s = {0};
	wl__http_response rs = {0};
	CHECK_ERR(get_streamed("/f/data.bin?drop=1000&range=ignore&t=norestart", 3, &s, false, &rs), WL_EIO,
	          "ignored the range to resume at byte 1000");
	CHECK_INT(s.len, 1000);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(start_at_asks_for_the_rest_only)
{
	/* The caller holds the first 70000 bytes: the sink gets the rest. */
	const char *t = "/f/data.bin?t=start";
	sink s = {0};
	wl__http_response rs = {0};
	wl__http *h = client(3, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(t));
	rq.on_data = sink_data;
	rq.on_restart = sink_restart;
	rq.ctx = &s;
	rq.expect_size = DATA_SIZE;
	rq.start_at = 70000;
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 206);
	CHECK_INT(rs.delivered, DATA_SIZE);
	CHECK_INT(s.restarts, 0);
	CHECK_INT(s.len, DATA_SIZE - 70000);
	CHECK(memcmp(s.p, data + 70000, DATA_SIZE - 70000) == 0);
	char v[128];
	CHECK(server_stat(port_main, t, "range", v, sizeof v));
	CHECK_STR(v, "bytes=70000-");
	free(s.p);
	wl__http_response_release(&rs);
	/* A server that ignores the range: the sink restarts and gets it all. */
	sink w = {0};
	rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/f/data.bin?range=ignore&t=start2"));
	rq.on_data = sink_data;
	rq.on_restart = sink_restart;
	rq.ctx = &w;
	rq.start_at = 70000;
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_INT(w.restarts, 1);
	CHECK(sink_is_data(&w));
	free(w.p);
	wl__http_response_release(&rs);
	/* Nonsense: a start past the end, or on a request without on_data. */
	rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(t));
	rq.on_data = sink_data;
	rq.ctx = &w;
	rq.expect_size = DATA_SIZE;
	rq.start_at = DATA_SIZE;
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "invalid arguments");
	rq.on_data = NULL;
	rq.start_at = 10;
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "invalid arguments");
	wl__http_response_release(&rs);
	wl__http_free(h);
}

/* ---- retries ---- */

TEST(server_errors_are_retried_until_success)
{
	const char *t = "/f/small.txt?fail=2&code=500";
	wl__http_response rs = {0};
	CHECK_OK(get(t, 5, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	CHECK_INT(rs.attempts, 3);
	CHECK_INT(server_count(port_main, t), 3);
	wl__http_response_release(&rs);
}

TEST(retries_are_bounded_and_the_last_failure_is_reported)
{
	const char *t = "/f/small.txt?fail=100&code=503";
	wl__http_response rs = {0};
	char want[256];
	snprintf(want, sizeof want, "GET http://127.0.0.1:%d/f/small.txt: status 503 (after 3 attempts)", port_main);
	CHECK_ERR(get(t, 2, &rs), WL_EIO, want);
	CHECK_INT(rs.status, 503);
	CHECK_INT(rs.attempts, 3);
	CHECK_INT(server_count(port_main, t), 3);
	wl__http_response_release(&rs);
}

TEST(too_many_requests_waits_for_retry_after)
{
	const char *t = "/f/small.txt?fail=1&code=429&retry_after=1";
	wl__http_response rs = {0};
	double start = now_seconds();
	CHECK_OK(get(t, 3, &rs));
	double waited = now_seconds() - start;
	CHECK_INT(rs.status, 200);
	CHECK_INT(server_count(port_main, t), 2);
	if (waited < 0.9) {
		HARNESS_FAIL("retried after %.3f s, Retry-After was 1 s", waited);
		return;
	}
	wl__http_response_release(&rs);
}

TEST(client_errors_are_statuses_and_not_retried)
{
	static const struct {
		const char *target;
		long status;
	} cases[] = {
	    {"/f/small.txt?auth=secret", 401},
	    {"/f/small.txt?status=403", 403},
	    {"/f/missing.bin", 404},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		wl__http_response rs = {0};
		CHECK_OK(get(cases[i].target, 3, &rs));
		CHECK_INT(rs.status, cases[i].status);
		CHECK_INT(rs.attempts, 1);
		CHECK(rs.body != NULL && rs.body_len > 0);
		if (cases[i].status == 401)
			CHECK_STR(rs.www_authenticate, "Bearer realm=\"test\"");
		wl__http_response_release(&rs);
		CHECK_INT(server_count(port_main, cases[i].target), 1);
	}
}

/* A GET of `url` on a client that may retry 3 times fails at once with
 * `message` and `failure`: what retrying cannot change. */
static void check_fails_once(const char *url, const char *message, wl__http_failure failure)
{
	wl__http *h = client(3, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	int rc = wl__http_perform(h, &rq, &rs);
	if (rc != WL_EIO || strstr(wl_error_last()->message, message) == NULL ||
	    strstr(wl_error_last()->message, "attempts") != NULL || rs.attempts != 1 || rs.failure != failure)
		HARNESS_FAIL("GET %s: rc %d, %d attempts, failure %d: %s", url, rc, rs.attempts, (int)rs.failure,
		             wl_error_last()->message);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

TEST(refused_connections_on_loopback_are_not_retried)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	close(fd); /* nothing listens there now */
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	check_fails_once(url, "cannot connect", WL__HTTP_FAILURE_REFUSED);
	snprintf(url, sizeof url, "http://localhost:%d/x", ntohs(a.sin_port));
	check_fails_once(url, "cannot connect", WL__HTTP_FAILURE_REFUSED);
}

TEST(loopback_hosts_are_localhost_127_slash_8_and_ipv6_one)
{
	static const char *const yes[] = {"localhost", "LocalHost", "localhost.", "127.0.0.1", "127.255.0.9",
	                                  "[::1]", "::1", "[0:0:0:0:0:0:0:1]"};
	static const char *const no[] = {"", "localhost.example", "mylocalhost", "128.0.0.1", "127.0.0", "127.0.0.1.",
	                                 "0127.0.0.1", "10.0.0.1", "[::2]", "[::1", "::ffff:127.0.0.1", "vm", "127.1"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK(wl__http_host_is_loopback(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK(!wl__http_host_is_loopback(no[i], strlen(no[i])));
	CHECK(!wl__http_host_is_loopback("127.0.0.1\0x", 11));
}

TEST(registry_fallback_is_for_loopback_hosts_only)
{
	CHECK(wl__registry_may_fall_back("localhost:5000", false));
	CHECK(wl__registry_may_fall_back("localhost", false));
	CHECK(wl__registry_may_fall_back("127.0.0.1:5000", false));
	CHECK(wl__registry_may_fall_back("127.3.2.1", false));
	CHECK(wl__registry_may_fall_back("[::1]:5000", false));
	CHECK(wl__registry_may_fall_back("[::1]", false));
	/* --plain-http: nothing to fall back from */
	CHECK(!wl__registry_may_fall_back("localhost:5000", true));
	/* names that may resolve to a loopback address are not loopback hosts */
	CHECK(!wl__registry_may_fall_back("vm:5000", false));
	CHECK(!wl__registry_may_fall_back("registry.local:5000", false));
	CHECK(!wl__registry_may_fall_back("localhost.example.com:5000", false));
	CHECK(!wl__registry_may_fall_back("ghcr.io", false));
	CHECK(!wl__registry_may_fall_back("10.0.0.1:5000", false));
	CHECK(!wl__registry_may_fall_back("192.168.1.2:5000", false));
	CHECK(!wl__registry_may_fall_back("[::2]:5000", false));
}

TEST(a_tls_handshake_with_a_plain_http_server_fails_once_and_says_so)
{
	char url[128];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/f/small.txt", port_main);
	check_fails_once(url, "TLS handshake failed", WL__HTTP_FAILURE_TLS_HANDSHAKE);
}

TEST(once_makes_one_attempt_whatever_happens)
{
	const char *t = "/f/small.txt?fail=5&code=503";
	wl__http *h = client(3, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(t));
	rq.once = true;
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "status 503");
	CHECK_INT(rs.attempts, 1);
	CHECK_INT(server_count(port_main, t), 1);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

TEST(an_unresolvable_name_is_not_retried)
{
	check_fails_once("http://no-such-host.invalid/x", "cannot resolve", WL__HTTP_FAILURE_RESOLVE);
}

TEST(body_shorter_than_content_length_is_a_dropped_connection)
{
	const char *t = "/f/small.txt?cl=10";
	wl__http_response rs = {0};
	CHECK_ERR(get(t, 1, &rs), WL_EIO, "connection dropped");
	CHECK(strstr(wl_error_last()->message, "(after 2 attempts)") != NULL);
	CHECK_INT(server_count(port_main, t), 2);
	wl__http_response_release(&rs);
}

TEST(messages_never_show_credentials_or_queries)
{
	char url[256];
	snprintf(url, sizeof url, "http://user:hunter2@127.0.0.1:%d/f/small.txt?fail=9&code=503&token=sekrit",
	         port_main);
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	char want[128];
	snprintf(want, sizeof want, "GET http://127.0.0.1:%d/f/small.txt: status 503", port_main);
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, want);
	const char *m = wl_error_last()->message;
	CHECK(strstr(m, "hunter2") == NULL && strstr(m, "user") == NULL && strstr(m, "sekrit") == NULL);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

/* ---- redirects and Authorization ---- */

static int get_with_auth(const char *url, const char *auth, wl__http_response *rs)
{
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	rq.origin = url;
	rq.authorization = auth;
	int rc = wl__http_perform(h, &rq, rs);
	wl__http_free(h);
	return rc;
}

TEST(authorization_goes_to_the_origin_only)
{
	char other[256], target[600], enc[512];
	snprintf(other, sizeof other, "http://127.0.0.1:%d/f/small.txt?t=elsewhere", port_other);
	wl__http_response rs = {0};
	/* The other origin does reject a request that carries it. */
	CHECK_OK(get_with_auth(other, "Bearer secret", &rs));
	CHECK_INT(rs.status, 400);
	/* Sent to the origin. */
	CHECK_OK(get_with_auth(url_main("/f/small.txt?auth=secret&t=direct"), "Bearer secret", &rs));
	CHECK_INT(rs.status, 200);
	char v[32];
	CHECK(server_stat(port_main, "/f/small.txt?auth=secret&t=direct", "authorization", v, sizeof v));
	CHECK_STR(v, "yes");
	/* Not to a redirect target on another origin. */
	snprintf(other, sizeof other, "http://127.0.0.1:%d/f/small.txt?t=moved", port_other);
	percent_encode(other, enc, sizeof enc);
	snprintf(target, sizeof target, "/redirect?to=%s", enc);
	CHECK_OK(get_with_auth(url_main(target), "Bearer secret", &rs));
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	CHECK_STR(rs.url, other);
	CHECK(server_stat(port_other, "/f/small.txt?t=moved", "authorization", v, sizeof v));
	CHECK_STR(v, "no");
	CHECK_INT(server_count(port_main, target), 1);
	/* But to a redirect target on the same origin. */
	CHECK_OK(get_with_auth(url_main("/redirect?to=/f/small.txt%3Fauth%3Dsecret%26t%3Dsame"), "Bearer secret", &rs));
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	wl__http_response_release(&rs);
}

TEST(relative_redirects_resolve_against_the_current_url)
{
	wl__http_response rs = {0};
	/* /redirect -> /redirect?to=f/small.txt?t=rel -> /f/small.txt?t=rel */
	CHECK_OK(get("/redirect?to=/redirect%3Fto%3Df/small.txt%253Ft%253Drel&code=307", 0, &rs));
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.url, url_main("/f/small.txt?t=rel"));
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	CHECK_INT(rs.attempts, 1);
	wl__http_response_release(&rs);
}

TEST(a_redirect_loop_fails_after_ten)
{
	wl__http_response rs = {0};
	CHECK_ERR(get("/loop/0", 3, &rs), WL_EIO, "more than 10 redirects");
	char want[128];
	snprintf(want, sizeof want, "GET http://127.0.0.1:%d/loop/0: ", port_main);
	CHECK(strstr(wl_error_last()->message, want) != NULL);
	CHECK_INT(server_count(port_main, "/loop/10"), 1);
	CHECK_INT(server_count(port_main, "/loop/11"), 0);
	CHECK_INT(server_count(port_main, "/loop/0"), 1);
	wl__http_response_release(&rs);
}


/* ---- origins, header injection, endless and dripping bodies ---- */

TEST(authorization_follows_the_request_origin_not_its_url)
{
	/* A URL handed out by a server (an upload Location) on another origin
	 * gets no credentials, though it is the request's own URL. */
	char other[256], v[32];
	snprintf(other, sizeof other, "http://127.0.0.1:%d/f/small.txt?t=location", port_other);
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, other);
	rq.origin = url_main("/");
	rq.authorization = "Bearer secret";
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	CHECK(server_stat(port_other, "/f/small.txt?t=location", "authorization", v, sizeof v));
	CHECK_STR(v, "no");
	/* Credentials without their origin are refused before a request. */
	rq.url = url_main("/f/small.txt?t=no-origin");
	rq.origin = NULL;
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "Authorization without the origin it belongs to");
	CHECK_INT(server_count(port_main, "/f/small.txt?t=no-origin"), 0);
	wl__http_response_release(&rs);
	wl__http_free(h);
}

TEST(an_https_origin_never_goes_to_plain_http)
{
	char origin[128];
	snprintf(origin, sizeof origin, "https://127.0.0.1:%d/", port_tls);
	wl__http *h = client(0, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_PUT, url_main("/echo?t=downgrade"));
	rq.origin = origin;
	rq.body = "blob bytes";
	rq.body_len = 10;
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "from https to plain http refused");
	CHECK_INT(server_count(port_main, "/echo?t=downgrade"), 0);
	/* Without credentials too: the bytes themselves would go in clear. */
	rq.authorization = NULL;
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "from https to plain http refused");
	wl__http_response_release(&rs);
	wl__http_free(h);
}

TEST(header_values_with_control_characters_are_refused_before_sending)
{
	wl__http *h = client(0, NULL);
	const char *smuggle[] = {"X-A: b\r\nX-Smuggled: 1", NULL};
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/f/small.txt?t=smuggle"));
	rq.headers = smuggle;
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "header \"X-A\" holds a control character");
	CHECK_INT(server_count(port_main, "/f/small.txt?t=smuggle"), 0);
	/* The Authorization value: refused, and never shown. */
	rq.headers = NULL;
	rq.origin = rq.url;
	rq.authorization = "Bearer tok\r\nX-Smuggled: 1";
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "header \"Authorization\"");
	CHECK(strstr(wl_error_last()->message, "tok") == NULL);
	CHECK_INT(server_count(port_main, "/f/small.txt?t=smuggle"), 0);
	/* A URL with a line break in it. */
	rq.authorization = NULL;
	rq.url = url_main("/f/small.txt?t=x\r\nX-Smuggled: 1");
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "the URL holds a control character");
	wl__http_response_release(&rs);
	wl__http_free(h);
}

TEST(an_endless_error_body_is_read_up_to_its_cap)
{
	wl__http_response rs = {0};
	double start = now_seconds();
	CHECK_OK(get("/endless?code=404&t=e404", 0, &rs));
	CHECK(now_seconds() - start < 10);
	CHECK_INT(rs.status, 404);
	CHECK(rs.body_len <= 64 * 1024 && rs.body_len > 0);
	CHECK(rs.body_truncated);
	usleep(200000);
	char v[32];
	CHECK(server_stat(port_main, "/endless?code=404&t=e404", "sent", v, sizeof v));
	CHECK(atol(v) < 64L << 20); /* the server gave up long before its 512 MiB */
	wl__http_response_release(&rs);
}

TEST(a_redirect_with_an_endless_body_is_followed_without_reading_it)
{
	wl__http_response rs = {0};
	double start = now_seconds();
	CHECK_OK(get("/endless?code=302&to=/f/small.txt&t=e302", 0, &rs));
	CHECK(now_seconds() - start < 10);
	CHECK_INT(rs.status, 200);
	CHECK_MEM(rs.body, rs.body_len, "hello\n");
	usleep(200000);
	char v[32];
	CHECK(server_stat(port_main, "/endless?code=302&to=/f/small.txt&t=e302", "sent", v, sizeof v));
	CHECK(atol(v) < 64L << 20);
	wl__http_response_release(&rs);
}

TEST(a_server_that_drips_is_ended_by_the_low_speed_guard)
{
	wl__http_options o;
	wl__http_options_init(&o);
	o.max_retries = 0;
	o.stall_timeout = 1;
	wl__http *h = NULL;
	CHECK_OK(wl__http_new(&h, &o));
	/* A byte every 0.3 s never trips the stall timer; 100 would take 30 s. */
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/drip?n=100&every=0.3"));
	wl__http_response rs = {0};
	double start = now_seconds();
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "timed out");
	CHECK(now_seconds() - start < 10);
	wl__http_response_release(&rs);
	wl__http_free(h);
}

TEST(a_redirect_loop_message_shows_no_query)
{
	wl__http_response rs = {0};
	CHECK_ERR(get("/loop/0?X-Amz-Signature=secret", 0, &rs), WL_EIO, "more than 10 redirects");
	CHECK(strstr(wl_error_last()->message, "secret") == NULL);
	CHECK(strstr(wl_error_last()->message, "Signature") == NULL);
	wl__http_response_release(&rs);
}

/* ---- cancellation and stalls ---- */

static volatile sig_atomic_t cancel_flag;

static void *cancel_soon(void *arg)
{
	(void)arg;
	usleep(300000);
	cancel_flag = 1;
	return NULL;
}

static int get_canceled(const char *target, double retry_base, double *elapsed)
{
	wl__http_options o;
	wl__http_options_init(&o);
	o.retry_base = retry_base;
	o.max_retries = 3;
	o.stall_timeout = 20;
	o.cancel = &cancel_flag;
	wl__http *h = NULL;
	if (wl__http_new(&h, &o) != 0)
		return 1;
	cancel_flag = 0;
	pthread_t th;
	pthread_create(&th, NULL, cancel_soon, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(target));
	wl__http_response rs = {0};
	double start = now_seconds();
	int rc = wl__http_perform(h, &rq, &rs);
	*elapsed = now_seconds() - start;
	pthread_join(th, NULL);
	wl__http_response_release(&rs);
	wl__http_free(h);
	return rc;
}

TEST(cancel_ends_a_transfer)
{
	double elapsed;
	CHECK_ERR(get_canceled("/f/data.bin?stall=6&stall_after=100&t=cancel", 0.01, &elapsed), WL_ECANCELED,
	          "canceled");
	CHECK(elapsed < 6); /* it did not wait for the server */
	CHECK_INT(server_count(port_main, "/f/data.bin?stall=6&stall_after=100&t=cancel"), 1);
}

TEST(cancel_ends_a_backoff_wait)
{
	double elapsed;
	CHECK_ERR(get_canceled("/f/small.txt?fail=9&code=503&t=cancelwait", 15, &elapsed), WL_ECANCELED, "canceled");
	CHECK(elapsed < 15);
	CHECK_INT(server_count(port_main, "/f/small.txt?fail=9&code=503&t=cancelwait"), 1);
}

TEST(a_stalled_transfer_fails_and_is_retried)
{
	const char *t = "/f/data.bin?stall=4&stall_after=1000";
	wl__http_options o;
	wl__http_options_init(&o);
	o.retry_base = 0.01;
	o.max_retries = 1;
	o.stall_timeout = 1;
	wl__http *h = NULL;
	CHECK_OK(wl__http_new(&h, &o));
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(t));
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "stalled: no data for 1 s (after 2 attempts)");
	CHECK_INT(server_count(port_main, t), 2);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

/* ---- size bounds ---- */

TEST(a_memory_body_is_bounded_by_max_body)
{
	wl__http *h = client(3, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/f/data.bin?t=max"));
	rq.max_body = 1000;
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EINVALID, "response body larger than 1000 bytes");
	CHECK_INT(server_count(port_main, "/f/data.bin?t=max"), 1);
	rq.max_body = DATA_SIZE;
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.body_len, DATA_SIZE);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

static int get_expecting(const char *target, int64_t expect, sink *s, wl__http_response *rs)
{
	wl__http *h = client(2, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main(target));
	rq.on_data = sink_data;
	rq.on_restart = sink_restart;
	rq.ctx = s;
	rq.expect_size = expect;
	int rc = wl__http_perform(h, &rq, rs);
	wl__http_free(h);
	return rc;
}

TEST(expect_size_fails_a_longer_body)
{
	sink s = {0};
	wl__http_response rs = {0};
	char want[64];
	snprintf(want, sizeof want, "more bytes than the %zu expected", DATA_SIZE - 100);
	CHECK_ERR(get_expecting("/f/data.bin?t=long", (int64_t)DATA_SIZE - 100, &s, &rs), WL_EMISMATCH, want);
	CHECK(s.len <= DATA_SIZE - 100);
	/* No Content-Length check to lean on: the body is cut off at the size. */
	s.len = 0;
	CHECK_ERR(get_expecting("/f/data.bin?cl=-1000&t=long", (int64_t)DATA_SIZE - 5000, &s, &rs), WL_EMISMATCH,
	          "more bytes than the");
	CHECK(s.len <= DATA_SIZE - 5000);
	free(s.p);
	wl__http_response_release(&rs);
}

TEST(expect_size_fails_a_shorter_complete_body)
{
	sink s = {0};
	wl__http_response rs = {0};
	char want[64];
	snprintf(want, sizeof want, "%zu bytes, expected %zu", DATA_SIZE, DATA_SIZE + 100);
	CHECK_ERR(get_expecting("/f/data.bin?t=short", (int64_t)DATA_SIZE + 100, &s, &rs), WL_EMISMATCH, want);
	/* A Content-Length shorter than the file: a complete, short body. */
	s.len = 0;
	snprintf(want, sizeof want, "%zu bytes, expected %zu", DATA_SIZE - 10, DATA_SIZE);
	CHECK_ERR(get_expecting("/f/data.bin?cl=-10", (int64_t)DATA_SIZE, &s, &rs), WL_EMISMATCH, want);
	CHECK_INT(server_count(port_main, "/f/data.bin?cl=-10"), 1);
	/* The exact size passes. */
	s.len = 0;
	CHECK_OK(get_expecting("/f/data.bin?t=exact", (int64_t)DATA_SIZE, &s, &rs));
	CHECK(sink_is_data(&s));
	free(s.p);
	wl__http_response_release(&rs);
}

/* ---- TLS ---- */

/* The URL of `target` on the TLS origin; fails the test without one. */
#define TLS_URL(url, target)                                                                                  \
	char url[128];                                                                                        \
	do {                                                                                                  \
		if (!have_tls) {                                                                              \
			HARNESS_FAIL("no TLS server (is the openssl command installed?)");                    \
			return;                                                                               \
		}                                                                                             \
		snprintf(url, sizeof url, "https://127.0.0.1:%d%s", port_tls, target);                        \
	} while (0)

TEST(an_https_registry_never_asks_a_plain_http_realm)
{
	if (!have_tls) {
		HARNESS_FAIL("no TLS server (is the openssl command installed?)");
		return;
	}
	char realm_url[512], to[128], enc[256];
	snprintf(to, sizeof to, "http://127.0.0.1:%d/token", port_main);
	percent_encode(to, enc, sizeof enc);
	snprintf(realm_url, sizeof realm_url, "https://127.0.0.1:%d/_realm?to=%s", port_tls, enc);
	wl__http *h = client(0, ca_path);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, realm_url);
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	char host[64];
	snprintf(host, sizeof host, "127.0.0.1:%d", port_tls);
	wl__credentials cred = {"alice", "secret", NULL};
	wl__registry_options ro = {.host = host, .credentials = &cred};
	wl__registry *r = NULL;
	CHECK_OK(wl__registry_new(&r, h, &ro));
	bool exists = true;
	CHECK_ERR(wl__registry_blob_exists(r, "m/w", "sha256:a57d03762ee9fb3550f9cc4f7273727846d0aeee367384b7ff5e6b6176fbc8bf",
	                                   &exists),
	          WL_EINVALID, "is plain http for an https registry: refused");
	CHECK(strstr(wl_error_last()->message, "secret") == NULL);
	CHECK_INT(server_count(port_main, "/token"), 0);
	wl__registry_free(r);
	wl__http_response_release(&rs);
	wl__http_free(h);
}

TEST(tls_with_the_extra_ca_file)
{
	TLS_URL(url, "/f/data.bin");
	wl__http *h = client(0, ca_path);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	CHECK_OK(wl__http_perform(h, &rq, &rs));
	CHECK_INT(rs.status, 200);
	char sha[65];
	sha256_hex(rs.body, rs.body_len, sha);
	CHECK_STR(sha, data_sha);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

TEST(tls_without_the_ca_fails_clearly_and_is_not_retried)
{
	TLS_URL(url, "/f/small.txt");
	long before = server_connections(port_tls);
	wl__http *h = client(3, NULL);
	wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url);
	wl__http_response rs = {0};
	CHECK_ERR(wl__http_perform(h, &rq, &rs), WL_EIO, "TLS certificate not trusted");
	CHECK(strstr(wl_error_last()->message, "attempts") == NULL);
	CHECK_INT(rs.attempts, 1);
	CHECK_INT(rs.failure, WL__HTTP_FAILURE_TLS_VERIFY);
	/* One connection for the request, one for this count: no retry. */
	CHECK_INT(server_connections(port_tls) - before, 2);
	wl__http_free(h);
	wl__http_response_release(&rs);
}

TEST(a_missing_ca_file_is_an_error_at_creation)
{
	wl__http_options o;
	wl__http_options_init(&o);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/no-such-ca.pem", scratch);
	o.cacert = path;
	wl__http *h = NULL;
	CHECK_ERR(wl__http_new(&h, &o), WL_EINVALID, "read CA file");
	CHECK(h == NULL);
	snprintf(path, sizeof path, "%s/small.txt", scratch);
	CHECK_ERR(wl__http_new(&h, &o), WL_EINVALID, "holds no PEM certificate");
}

/* ---- connections ---- */

TEST(connections_are_reused)
{
	wl__http *h = client(0, NULL);
	long before = server_connections(port_main);
	for (int i = 0; i < 3; i++) {
		wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/f/small.txt?t=reuse"));
		wl__http_response rs = {0};
		CHECK_OK(wl__http_perform(h, &rq, &rs));
		CHECK_INT(rs.status, 200);
		wl__http_response_release(&rs);
	}
	long after = server_connections(port_main);
	wl__http_free(h);
	/* One for the three requests, one for each of the two counts. */
	CHECK_INT(after - before, 2);
}

typedef struct parallel_job {
	wl__http *http;
	int ok;
} parallel_job;

static void *parallel_get(void *arg)
{
	parallel_job *job = arg;
	for (int i = 0; i < 3; i++) {
		wl__http_request rq = WL__HTTP_REQUEST_INIT(WL__HTTP_GET, url_main("/f/data.bin?t=parallel"));
		wl__http_response rs = {0};
		if (wl__http_perform(job->http, &rq, &rs) == 0 && rs.status == 200 && rs.body_len == DATA_SIZE &&
		    memcmp(rs.body, data, DATA_SIZE) == 0)
			job->ok++;
		wl__http_response_release(&rs);
	}
	return NULL;
}

TEST(threads_share_one_client)
{
	wl__http *h = client(2, NULL);
	parallel_job jobs[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (parallel_job){h, 0};
		pthread_create(&th[i], NULL, parallel_get, &jobs[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	wl__http_free(h);
	for (int i = 0; i < 4; i++)
		CHECK_INT(jobs[i].ok, 3);
	CHECK_INT(server_count(port_main, "/f/data.bin?t=parallel"), 12);
}

/* ---- parsers ---- */

TEST(retry_after_as_seconds_or_an_http_date)
{
	double s = -1;
	CHECK(wl__http_parse_retry_after("120", 3, 0, &s) && s == 120);
	CHECK(wl__http_parse_retry_after(" 0 ", 3, 0, &s) && s == 0);
	CHECK(wl__http_parse_retry_after("99999999999999999999999", 23, 0, &s) && s > 1e18);
	/* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT. */
	const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
	CHECK(wl__http_parse_retry_after(date, strlen(date), 784111777 - 30, &s) && s == 30);
	CHECK(wl__http_parse_retry_after(date, strlen(date), 784111777 + 30, &s) && s == 0);
	const char *leap = "Thu, 29 Feb 2024 00:00:00 GMT"; /* 1709164800 */
	CHECK(wl__http_parse_retry_after(leap, strlen(leap), 1709164800 - 5, &s) && s == 5);
	static const char *bad[] = {"", "-1", "1.5", "12a", "soon", "Sun, 06 Nov 1994 08:49:37 UTC",
	                            "Sun, 06 Xyz 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (wl__http_parse_retry_after(bad[i], strlen(bad[i]), 0, &s)) {
			HARNESS_FAIL("Retry-After \"%s\" was accepted", bad[i]);
			return;
		}
}

TEST(content_range_of_a_partial_response)
{
	int64_t a, b, t;
	CHECK(wl__http_parse_content_range("bytes 100-199/1000", 18, &a, &b, &t) && a == 100 && b == 199 && t == 1000);
	CHECK(wl__http_parse_content_range("bytes 0-0/*", 11, &a, &b, &t) && a == 0 && b == 0 && t == -1);
	static const char *bad[] = {"bytes */1000", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2", "bytes 0-1/2x",
	                            "bytes 0-99999999999999999999/*", "bytes 1-"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (wl__http_parse_content_range(bad[i], strlen(bad[i]), &a, &b, &t)) {
			HARNESS_FAIL("Content-Range \"%s\" was accepted", bad[i]);
			return;
		}
}

static bool link_is(const char *value, const char *want)
{
	const char *t = NULL;
	size_t n = 0;
	bool found = wl__http_link_next(value, strlen(value), &t, &n);
	if (want == NULL)
		return !found;
	return found && n == strlen(want) && memcmp(t, want, n) == 0;
}

TEST(link_header_rel_next)
{
	CHECK(link_is("<https://h/p?cursor=2>; rel=\"next\"", "https://h/p?cursor=2"));
	CHECK(link_is("</a>; rel=prev, </b>; rel=next", "/b"));
	CHECK(link_is("</a>; title=\"x, rel=next\", </b>; REL=\"prev NEXT\"", "/b"));
	CHECK(link_is("</a,b>;rel=next", "/a,b"));
	CHECK(link_is("</a>; rel=\"prev\"", NULL));
	CHECK(link_is("</a>; rel=nextpage", NULL));
	CHECK(link_is("garbage, </c>; rel=next", "/c"));
	CHECK(link_is("</unterminated; rel=next", NULL));
	CHECK(link_is("", NULL));
}

TEST(header_lines_are_parsed_case_insensitively)
{
	wl__http_headers h;
	wl__http_headers_init(&h);
	static const char *lines[] = {
	    "HTTP/1.1 100 Continue\r\n",
	    "\r\n",
	    "HTTP/1.1 206 Partial Content\r\n",
	    "etag:   \"abc\"  \r\n",
	    "ETag: \"second\"\r\n",
	    "CONTENT-LENGTH: 42\r\n",
	    "Content-Range: bytes 0-41/100\r\n",
	    "www-authenticate: Bearer realm=\"a\"\r\n",
	    "WWW-Authenticate: Basic realm=\"b\"\r\n",
	    "Link: </x>; rel=prev\r\n",
	    "Link: </y>; rel=next\r\n",
	    "Retry-After: 7\r\n",
	    "Docker-Content-Digest: sha256:00\r\n",
	    " folded continuation\r\n",
	    "no colon here\r\n",
	    "\r\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		CHECK_OK(wl__http_headers_line(&h, lines[i], strlen(lines[i])));
	CHECK_INT(h.status, 206);
	CHECK_STR(h.etag, "\"abc\"");
	CHECK_INT(h.content_length, 42);
	CHECK_STR(h.content_range, "bytes 0-41/100");
	CHECK_STR(h.www_authenticate, "Bearer realm=\"a\", Basic realm=\"b\"");
	CHECK_STR(h.link_next, "/y");
	CHECK_STR(h.retry_after, "7");
	CHECK_STR(h.docker_content_digest, "sha256:00");
	/* Too many header bytes is an error, not unbounded memory. */
	char big[4096];
	memset(big, 'a', sizeof big);
	memcpy(big, "X-Pad: ", 7);
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = wl__http_headers_line(&h, big, sizeof big);
	CHECK_INT(rc, WL_EPARSE);
	wl__http_headers_release(&h);
}

TEST(urls_for_messages_and_origins)
{
	char *m = wl__http_url_for_message("https://u:p@Example.com:8443/a/b?token=x#f");
	CHECK(m != NULL && strstr(m, "u:p") == NULL && strstr(m, "token") == NULL);
	CHECK(strstr(m, "example.com:8443/a/b") != NULL || strstr(m, "Example.com:8443/a/b") != NULL);
	free(m);
	CHECK(wl__http_same_origin("https://h/a", "https://H:443/b"));
	CHECK(!wl__http_same_origin("https://h/a", "http://h/a"));
	CHECK(!wl__http_same_origin("https://h/a", "https://h:444/a"));
	CHECK(!wl__http_same_origin("https://h/a", "https://h.evil/a"));
	char *r = NULL;
	CHECK_OK(wl__http_resolve("https://h/a/b/c?q=1", "../d?e=2", &r));
	CHECK_STR(r, "https://h/a/d?e=2");
	free(r);
	CHECK_OK(wl__http_resolve("https://h/a/b", "//other/x", &r));
	CHECK_STR(r, "https://other/x");
	free(r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	start_server();
	RUN(get_keeps_the_body_in_memory_with_its_headers);
	RUN(etag_is_kept_verbatim_strong_weak_or_absent);
	RUN(head_gets_headers_and_no_body);
	RUN(on_data_gets_every_byte_in_order);
	RUN(on_data_failure_ends_the_request_with_its_code);
	RUN(link_next_is_resolved_and_registry_headers_are_kept);
	RUN(uploads_send_their_body_with_the_method);
	RUN(upload_from_a_read_callback);
	RUN(dropped_download_resumes_with_range_and_if_range);
	RUN(resume_after_several_drops_delivers_the_file_once);
	RUN(resume_with_a_weak_etag_sends_no_if_range);
	RUN(resume_answered_with_200_restarts_the_sink);
	RUN(resume_answered_with_200_fails_without_on_restart);
	RUN(start_at_asks_for_the_rest_only);
	RUN(server_errors_are_retried_until_success);
	RUN(retries_are_bounded_and_the_last_failure_is_reported);
	RUN(too_many_requests_waits_for_retry_after);
	RUN(client_errors_are_statuses_and_not_retried);
	RUN(refused_connections_on_loopback_are_not_retried);
	RUN(loopback_hosts_are_localhost_127_slash_8_and_ipv6_one);
	RUN(registry_fallback_is_for_loopback_hosts_only);
	RUN(a_tls_handshake_with_a_plain_http_server_fails_once_and_says_so);
	RUN(once_makes_one_attempt_whatever_happens);
	RUN(an_unresolvable_name_is_not_retried);
	RUN(body_shorter_than_content_length_is_a_dropped_connection);
	RUN(messages_never_show_credentials_or_queries);
	RUN(authorization_goes_to_the_origin_only);
	RUN(relative_redirects_resolve_against_the_current_url);
	RUN(a_redirect_loop_fails_after_ten);
	RUN(authorization_follows_the_request_origin_not_its_url);
	RUN(an_https_origin_never_goes_to_plain_http);
	RUN(header_values_with_control_characters_are_refused_before_sending);
	RUN(an_endless_error_body_is_read_up_to_its_cap);
	RUN(a_redirect_with_an_endless_body_is_followed_without_reading_it);
	RUN(a_server_that_drips_is_ended_by_the_low_speed_guard);
	RUN(a_redirect_loop_message_shows_no_query);
	RUN(cancel_ends_a_transfer);
	RUN(cancel_ends_a_backoff_wait);
	RUN(a_stalled_transfer_fails_and_is_retried);
	RUN(a_memory_body_is_bounded_by_max_body);
	RUN(expect_size_fails_a_longer_body);
	RUN(expect_size_fails_a_shorter_complete_body);
	RUN(tls_with_the_extra_ca_file);
	RUN(an_https_registry_never_asks_a_plain_http_realm);
	RUN(tls_without_the_ca_fails_clearly_and_is_not_retried);
	RUN(a_missing_ca_file_is_an_error_at_creation);
	RUN(connections_are_reused);
	RUN(threads_share_one_client);
	RUN(retry_after_as_seconds_or_an_http_date);
	RUN(content_range_of_a_partial_response);
	RUN(link_header_rel_next);
	RUN(header_lines_are_parsed_case_insensitively);
	RUN(urls_for_messages_and_origins);
	stop_server();
	return harness_summary("http");
}
