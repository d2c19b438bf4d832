/*
 * test_status.c - the statuses wl_status decides without a registry
 * (SPEC.md §18.3): pending, stale (the drift comparison), orphaned, their
 * order, and that the registry is needed only for a weight locked as
 * declared. The registry part is tested against a real registry in
 * tests/cli/test_status.py.
 */
#include "harness.h"

static wl_config *config_of(const char *yaml)
{
	wl_config *c = NULL;
	if (wl_config_parse(&c, yaml, strlen(yaml), NULL) != 0)
		printf("  config: %s\n", wl_error_last()->message);
	return c;
}

/* A lock of entries (name, target, uri), no layers. */
typedef struct {
	wl_lock lock;
	wl_entry entries[4];
	wl_source sources[4];
} fake_lock;

static void add(fake_lock *f, const char *name, const char *target, const char *uri)
{
	size_t i = f->lock.entry_count++;
	f->lock.entries = f->entries;
	f->lock.version = 1;
	f->lock.entries_present = true;
	f->sources[i].uri = wl_str(uri);
	f->entries[i] = (wl_entry){.name = wl_str(name), .target = wl_str(target), .sources = &f->sources[i],
	                           .source_count = 1, .sources_present = true, .size = 7};
}

static const wl_registry_options no_registry = {.repository = NULL};

#define YAML                                                                                                 \
	"weights:\n"                                                                                          \
	"  - {name: a, target: /a, source: {uri: ./a}}\n"                                                    \
	"  - {name: b, target: /b, source: {uri: ./b}}\n"                                                    \
	"  - {name: c, target: /c, source: {uri: ./c, exclude: ['*.md']}}\n"

TEST(status_names)
{
	CHECK_STR(wl_weight_status_name(WL_STATUS_READY), "ready");
	CHECK_STR(wl_weight_status_name(WL_STATUS_INCOMPLETE), "incomplete");
	CHECK_STR(wl_weight_status_name(WL_STATUS_STALE), "stale");
	CHECK_STR(wl_weight_status_name(WL_STATUS_PENDING), "pending");
	CHECK_STR(wl_weight_status_name(WL_STATUS_ORPHANED), "orphaned");
}

TEST(no_lockfile_is_all_pending_without_a_registry)
{
	wl_config *c = config_of(YAML);
	CHECK(c != NULL);
	wl_status_report *r = NULL;
	CHECK_OK(wl_status(&r, c, NULL, &no_registry));
	int ok = r->result_count == 3 && strcmp(r->results[2].target.ptr, "/c") == 0;
	for (size_t i = 0; ok && i < 3; i++)
		ok = r->results[i].status == WL_STATUS_PENDING && r->results[i].entry == NULL &&
		     !r->results[i].checked && r->results[i].layers == NULL;
	wl_status_report_free(r);
	wl_config_free(c);
	CHECK(ok);
}

TEST(stale_pending_orphaned_in_cog_order_then_lockfile_order)
{
	fake_lock f = {0};
	add(&f, "z", "/z", "file://./z");
	add(&f, "c", "/c", "file://./c"); /* the filters differ */
	add(&f, "a", "/old", "file://./a");
	wl_config *c = config_of(YAML);
	CHECK(c != NULL);
	wl_status_report *r = NULL;
	int rc = wl_status(&r, c, &f.lock, &no_registry);
	CHECK_OK(rc);
	CHECK_INT(r->result_count, 4);
	static const char *const names[] = {"a", "b", "c", "z"};
	static const wl_weight_status want[] = {WL_STATUS_STALE, WL_STATUS_PENDING, WL_STATUS_STALE,
	                                        WL_STATUS_ORPHANED};
	for (size_t i = 0; i < 4; i++) {
		CHECK_STR(r->results[i].name.ptr, names[i]);
		CHECK_INT(r->results[i].status, want[i]);
		CHECK(!r->results[i].checked);
	}
	CHECK_STR(r->results[0].target.ptr, "/a"); /* the declared target */
	CHECK_STR(r->results[0].details, "target: /old \xE2\x86\x92 /a");
	CHECK_STR(r->results[2].details, "exclude: [] \xE2\x86\x92 [*.md]");
	CHECK(r->results[0].entry == &f.entries[2] && r->results[3].entry == &f.entries[0]);
	CHECK_STR(r->results[3].target.ptr, "/z");
	CHECK(r->results[1].details == NULL && r->results[3].details == NULL);
	wl_status_report_free(r);
	wl_config_free(c);
}

TEST(a_weight_locked_as_declared_needs_the_registry)
{
	fake_lock f = {0};
	add(&f, "b", "/b", "file://./b");
	wl_config *c = config_of(YAML);
	CHECK(c != NULL);
	wl_status_report *r = (wl_status_report *)1;
	int rc = wl_status(&r, c, &f.lock, &no_registry);
	wl_config_free(c);
	CHECK_ERR(rc, WL_EINVALID, "no registry repository given");
	CHECK(r == NULL);
}

TEST(no_config_is_an_error)
{
	wl_status_report *r = NULL;
	CHECK_ERR(wl_status(&r, NULL, NULL, &no_registry), WL_EINVALID, "no configuration");
	wl_status_report_free(NULL);
}

int main(void)
{
	RUN(status_names);
	RUN(no_lockfile_is_all_pending_without_a_registry);
	RUN(stale_pending_orphaned_in_cog_order_then_lockfile_order);
	RUN(a_weight_locked_as_declared_needs_the_registry);
	RUN(no_config_is_an_error);
	return harness_summary("status");
}
