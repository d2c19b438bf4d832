/*
 * test_grammar.c - the grammars of values sent to servers (common/grammar.c):
 * the distribution spec's repository names, tags and digests, RFC 6838 media
 * types, RFC 9110 header fields, RFC 6750 b64tokens, and the weight names
 * that become tags (SPEC.md §5.2, §18.1, §18.2).
 */
#include "harness.h"
#include "common/grammar.h"

#define S(lit) (lit), (sizeof(lit) - 1)

TEST(repository_names_follow_the_distribution_grammar)
{
	CHECK(wl__repository_valid(S("a")));
	CHECK(wl__repository_valid(S("library/ubuntu")));
	CHECK(wl__repository_valid(S("org/model-1.v2/x__y")));
	CHECK(wl__repository_valid(S("a--b/c_d/e.f")));
	CHECK(!wl__repository_valid(S("")));
	CHECK(!wl__repository_valid(S("Org/model")));
	CHECK(!wl__repository_valid(S("a//b")));
	CHECK(!wl__repository_valid(S("a/")));
	CHECK(!wl__repository_valid(S("/a")));
	CHECK(!wl__repository_valid(S("-a")));
	CHECK(!wl__repository_valid(S("a-")));
	CHECK(!wl__repository_valid(S("a___b")));
	CHECK(!wl__repository_valid(S("a..b")));
	CHECK(!wl__repository_valid(S("a/../b")));
	CHECK(!wl__repository_valid(S("a/./b")));
	CHECK(!wl__repository_valid(S("a:tag")));
	CHECK(!wl__repository_valid(S("a?x=1")));
	CHECK(!wl__repository_valid(S("a%2fb")));
	CHECK(!wl__repository_valid(S("a\0b")));
	char longest[WL__REPOSITORY_MAX + 2];
	memset(longest, 'a', sizeof longest);
	CHECK(wl__repository_valid(longest, WL__REPOSITORY_MAX));
	CHECK(!wl__repository_valid(longest, WL__REPOSITORY_MAX + 1));
}

/* The reason wl__repository_explain gives for `s`, or "" when valid. */
static const char *why_not(const char *s, size_t n)
{
	static char why[256];
	why[0] = '\0';
	if (wl__repository_explain(s, n, why, sizeof why))
		return "";
	return why;
}

#define WHY_HAS(lit, part) CHECK(strstr(why_not(S(lit)), (part)) != NULL)

TEST(a_bad_repository_name_is_explained_by_its_component_and_character)
{
	CHECK_STR(why_not(S("org/model-1.v2/x__y")), "");
	WHY_HAS("Org/model", "component 1 \"Org\" holds the upper-case letter 'O'; names are lower case");
	WHY_HAS("org/myModel", "component 2 \"myModel\" holds the upper-case letter 'M'");
	WHY_HAS("a//b", "component 2 \"\" is empty");
	WHY_HAS("a/", "component 2 \"\" is empty");
	WHY_HAS("/a", "component 1 \"\" is empty");
	WHY_HAS("-a", "component 1 \"-a\" starts with '-'");
	WHY_HAS("a/b.", "component 2 \"b.\" ends with '.'");
	WHY_HAS("a___b", "has the separator '___'");
	WHY_HAS("a..b", "has the separator '..'");
	WHY_HAS("a.-b", "has the separator '.-'");
	WHY_HAS("a/../b", "component 2 \"..\" starts with '.'");
	WHY_HAS("a:tag", "holds the character ':'");
	WHY_HAS("a b", "holds the character ' '");
	WHY_HAS("a\"b", "holds the character '\\\"'");
	WHY_HAS("a\r\nb", "component 1 \"a\\x0d\\x0ab\" holds the character '\\x0d'");
	WHY_HAS("a\0b", "holds the character '\\x00'");
	CHECK_STR(why_not(S("")), "the name is empty");
	char longest[WL__REPOSITORY_MAX + 1];
	memset(longest, 'a', sizeof longest);
	CHECK(strstr(why_not(longest, sizeof longest), "256 bytes long, more than 255") != NULL);
	/* a tiny buffer is cut, never overrun */
	char small[12];
	memset(small, 'x', sizeof small);
	CHECK(!wl__repository_explain(S("Org/model"), small, sizeof small));
	CHECK(strlen(small) < sizeof small);
	CHECK(!wl__repository_explain(S("Org/model"), NULL, 0));
}

TEST(registry_hosts_are_domains_or_bracketed_ipv6_with_a_port)
{
	char why[256];
	static const char *const good[] = {"localhost", "localhost:5000", "127.0.0.1:5000", "ghcr.io", "r8.im",
	                                   "my-registry.example.com:443", "[::1]:5000", "[fe80::1]", "Docker.IO"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(wl__registry_host_explain(good[i], strlen(good[i]), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("bad_host:5000"), why, sizeof why));
	CHECK(strstr(why, "registry host \"bad_host:5000\" holds the character '_'") != NULL);
	CHECK(!wl__registry_host_explain(S("-a.io"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a-.io"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a..io"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a.io."), why, sizeof why));
	CHECK(!wl__registry_host_explain(S(""), why, sizeof why));
	CHECK(strstr(why, "is empty") != NULL);
	CHECK(!wl__registry_host_explain(S("a.io:"), why, sizeof why));
	CHECK(strstr(why, "port that is not a number up to 65535") != NULL);
	CHECK(!wl__registry_host_explain(S("a.io:65536"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a.io:123456"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a.io:5x"), why, sizeof why));
	CHECK(wl__registry_host_explain(S("a.io:65535"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("[::1"), why, sizeof why));
	CHECK(strstr(why, "not an IPv6 address") != NULL);
	CHECK(!wl__registry_host_explain(S("[]:5000"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("[::g]"), why, sizeof why));
	CHECK(!wl__registry_host_explain(S("a.io/x"), why, sizeof why));
	CHECK(strstr(why, "holds the character '/'; it is HOST[:PORT]") != NULL);
	CHECK(!wl__registry_host_explain(S("a\r\nb"), why, sizeof why));
	CHECK(strchr(why, '\r') == NULL && strchr(why, '\n') == NULL);
}

TEST(tags_follow_the_distribution_grammar)
{
	CHECK(wl__tag_valid(S("latest")));
	CHECK(wl__tag_valid(S("_x")));
	CHECK(wl__tag_valid(S("weights-demo-a57d03762ee9")));
	CHECK(wl__tag_valid(S("cog-weight.my-weight.a57d03762ee9")));
	CHECK(wl__tag_valid(S("V1.0_rc-2")));
	CHECK(!wl__tag_valid(S("")));
	CHECK(!wl__tag_valid(S(".x")));
	CHECK(!wl__tag_valid(S("-x")));
	CHECK(!wl__tag_valid(S("a/b")));
	CHECK(!wl__tag_valid(S("weights-a/../../../victim/manifests/latest?x=-0123456789ab")));
	CHECK(!wl__tag_valid(S("a b")));
	CHECK(!wl__tag_valid(S("a\r\nb")));
	char t[WL__TAG_MAX + 1];
	memset(t, 'x', sizeof t);
	CHECK(wl__tag_valid(t, WL__TAG_MAX));
	CHECK(!wl__tag_valid(t, WL__TAG_MAX + 1));
}

TEST(digests_are_sha256_or_sha512_in_lower_case_hex)
{
	const char *d = "sha256:a57d03762ee9fb3550f9cc4f7273727846d0aeee367384b7ff5e6b6176fbc8bf";
	CHECK(wl__digest_valid(d, strlen(d)));
	CHECK(!wl__digest_valid(d, strlen(d) - 1));
	CHECK(!wl__digest_valid(S("sha256:A57D03762EE9FB3550F9CC4F7273727846D0AEEE367384B7FF5E6B6176FBC8BF")));
	CHECK(!wl__digest_valid(S("sha256:../../../../victim/manifests/latest?x=0000000000000000000000")));
	CHECK(!wl__digest_valid(S("md5:d41d8cd98f00b204e9800998ecf8427e")));
	char d512[7 + 128];
	memcpy(d512, "sha512:", 7);
	memset(d512 + 7, 'f', 128);
	CHECK(wl__digest_valid(d512, sizeof d512));
}

TEST(media_types_follow_rfc_6838)
{
	CHECK(wl__media_type_valid(S("application/vnd.oci.image.layer.v1.tar")));
	CHECK(wl__media_type_valid(S("application/vnd.oci.image.layer.v1.tar+gzip")));
	CHECK(wl__media_type_valid(S("application/vnd.cog.weight.config.v1+json")));
	CHECK(wl__media_type_valid(S("a/b!#$&-^_.+")));
	CHECK(!wl__media_type_valid(S("")));
	CHECK(!wl__media_type_valid(S("application")));
	CHECK(!wl__media_type_valid(S("application/")));
	CHECK(!wl__media_type_valid(S("/json")));
	CHECK(!wl__media_type_valid(S("application/json; charset=utf-8")));
	CHECK(!wl__media_type_valid(S("application/a/b")));
	CHECK(!wl__media_type_valid(S("application/vnd.oci.image.layer.v1.tar\r\nX-Evil: 1")));
	CHECK(!wl__media_type_valid(S("application/.tar")));
	CHECK(!wl__media_type_valid(S("application/vn\0d.oci"))); /* found by fuzz_names */
	char mt[2 + 128];
	memcpy(mt, "a/", 2);
	memset(mt + 2, 'b', 128);
	CHECK(wl__media_type_valid(mt, 2 + 127));
	CHECK(!wl__media_type_valid(mt, 2 + 128));
}

TEST(header_values_hold_no_control_character)
{
	CHECK(wl__header_value_valid(S("")));
	CHECK(wl__header_value_valid(S("Bearer abc.def")));
	CHECK(wl__header_value_valid(S("a\tb c")));
	CHECK(wl__header_value_valid(S("caf\xc3\xa9")));
	CHECK(!wl__header_value_valid(S("a\r\nX-Smuggled: 1")));
	CHECK(!wl__header_value_valid(S("a\nb")));
	CHECK(!wl__header_value_valid(S("a\rb")));
	CHECK(!wl__header_value_valid(S("a\0b")));
	CHECK(!wl__header_value_valid(S("a\x7f")));
	CHECK(!wl__header_value_valid(S("a\x1b[31m")));
	CHECK(!wl__header_value_valid(S(" a")));
	CHECK(!wl__header_value_valid(S("a ")));
}

TEST(header_lines_are_a_token_a_colon_and_a_value)
{
	CHECK(wl__header_line_valid(S("Accept: application/json")));
	CHECK(wl__header_line_valid(S("Expect:")));
	CHECK(wl__header_line_valid(S("OCI-Layer-Media-Type: application/vnd.oci.image.layer.v1.tar")));
	CHECK(!wl__header_line_valid(S(": x")));
	CHECK(!wl__header_line_valid(S("No colon")));
	CHECK(!wl__header_line_valid(S("Bad Name: x")));
	CHECK(!wl__header_line_valid(S("X-A: b\r\nX-Smuggled: 1")));
	CHECK(!wl__header_line_valid(S("X-A\r\n: b")));
}

TEST(bearer_tokens_are_rfc_6750_b64tokens)
{
	CHECK(wl__b64token_valid(S("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")));
	CHECK(wl__b64token_valid(S("abc-._~+/==")));
	CHECK(wl__b64token_valid(S("hf_AbCdEf0123")));
	CHECK(!wl__b64token_valid(S("")));
	CHECK(!wl__b64token_valid(S("==")));
	CHECK(!wl__b64token_valid(S("a=b")));
	CHECK(!wl__b64token_valid(S("abc\r\nX-Evil: 1")));
	CHECK(!wl__b64token_valid(S("a b")));
	CHECK(!wl__b64token_valid(S("a\"b")));
	CHECK(!wl__b64token_valid(S("a,b")));
}

TEST(weight_names_that_can_form_a_tag)
{
	CHECK(wl__weight_name_taggable(S("demo")));
	CHECK(wl__weight_name_taggable(S("whisper-clip-46")));
	CHECK(wl__weight_name_taggable(S("a.b_c-d")));
	CHECK(!wl__weight_name_taggable(S("")));
	CHECK(!wl__weight_name_taggable(S("Demo")));
	CHECK(!wl__weight_name_taggable(S("..")));
	CHECK(!wl__weight_name_taggable(S("a--b")));
	CHECK(!wl__weight_name_taggable(S("a/../../../victim/manifests/latest?x=")));
	CHECK(!wl__weight_name_taggable(S("caf\xc3\xa9")));
	char n[WL__WEIGHT_NAME_MAX + 1];
	memset(n, 'a', sizeof n);
	CHECK(wl__weight_name_taggable(n, WL__WEIGHT_NAME_MAX));
	CHECK(!wl__weight_name_taggable(n, WL__WEIGHT_NAME_MAX + 1));
	/* the longest name's tag is the longest tag */
	char tag[WL__TAG_MAX + 1];
	int len = snprintf(tag, sizeof tag, "weights-%.*s-%s", WL__WEIGHT_NAME_MAX, n, "a57d03762ee9");
	CHECK_INT(len, WL__TAG_MAX);
	CHECK(wl__tag_valid(tag, (size_t)len));
}

int main(void)
{
	RUN(repository_names_follow_the_distribution_grammar);
	RUN(a_bad_repository_name_is_explained_by_its_component_and_character);
	RUN(registry_hosts_are_domains_or_bracketed_ipv6_with_a_port);
	RUN(tags_follow_the_distribution_grammar);
	RUN(digests_are_sha256_or_sha512_in_lower_case_hex);
	RUN(media_types_follow_rfc_6838);
	RUN(header_values_hold_no_control_character);
	RUN(header_lines_are_a_token_a_colon_and_a_value);
	RUN(bearer_tokens_are_rfc_6750_b64tokens);
	RUN(weight_names_that_can_form_a_tag);
	return harness_summary("grammar");
}
