/*
 * grammar.h - the grammars of the names and values that travel to a server:
 * OCI distribution repository names, tags and digests, RFC 6838 media types,
 * RFC 9110 header field values and RFC 6750 bearer tokens, plus the weight
 * names that become tags. Not installed.
 *
 * Owns: deciding whether bytes are one of those things, in linear time and
 * without allocating. Every check takes a pointer and a length, so a value
 * with an embedded NUL is refused rather than cut short. Written by hand:
 * the grammars are a few lines each and no Debian library states them.
 *
 * Knows nothing of requests or lockfiles: net/ calls it before building a
 * URL or a header, format/check.c before accepting a lockfile.
 */
#ifndef WL_COMMON_GRAMMAR_H
#define WL_COMMON_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

/** The longest repository name accepted (host not included). */
#define WL__REPOSITORY_MAX 255
/** The longest tag the distribution spec allows. */
#define WL__TAG_MAX 128
/** The longest weight name whose v0.19.3 tag "weights-NAME-<12 hex>" is
 *  still a tag: 128 - 8 - 13. */
#define WL__WEIGHT_NAME_MAX 107

/** A repository name: components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined
 *  by '/', at most WL__REPOSITORY_MAX bytes. */
bool wl__repository_valid(const char *s, size_t n);

/** wl__repository_valid, saying why not: true when `s` is a repository
 *  name; otherwise false with `why` (`cap` bytes, NUL-terminated; may be
 *  NULL) naming the bad part: which component, which character ("component
 *  1 \"Org\" holds the upper-case letter 'O'; names are lower case").
 *  Bytes outside printable ASCII are shown as \xNN. */
bool wl__repository_explain(const char *s, size_t n, char *why, size_t cap);

/** A registry host as a reference names it: domain components
 *  [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? joined by '.', or an IPv6
 *  address in brackets, then optionally ':' and a port of 1 to 5 digits
 *  (at most 65535). As wl__repository_explain, `why` says what is wrong. */
bool wl__registry_host_explain(const char *s, size_t n, char *why, size_t cap);

/** A tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool wl__tag_valid(const char *s, size_t n);

/** A digest the project sends: "sha256:" and 64 lower-case hex digits, or
 *  "sha512:" and 128. */
bool wl__digest_valid(const char *s, size_t n);

/** A media type as RFC 6838 §4.2 names one: type "/" subtype, each a
 *  restricted-name (an alphanumeric, then up to 126 of alphanumerics and
 *  !#$&-^_.+); no parameters. */
bool wl__media_type_valid(const char *s, size_t n);

/** An HTTP field value: visible ASCII, obs-text (0x80-0xFF), space and tab
 *  only; no CR, LF, NUL or other control character, no leading or trailing
 *  white space. */
bool wl__header_value_valid(const char *s, size_t n);

/** A whole header line "Name: value": the name an RFC 9110 token, then a
 *  colon, then optional white space and a valid value (which may be empty). */
bool wl__header_line_valid(const char *s, size_t n);

/** An RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 *  "/" ) *"=". */
bool wl__b64token_valid(const char *s, size_t n);

/** A weight name that can form a tag and a path component: cog.yaml's
 *  grammar ^[a-z0-9]+([._-][a-z0-9]+)*$ (SPEC.md §5.2, wl_weight_name_valid),
 *  at most WL__WEIGHT_NAME_MAX bytes. */
bool wl__weight_name_taggable(const char *s, size_t n);

#endif
