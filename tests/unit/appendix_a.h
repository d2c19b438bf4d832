/*
 * appendix_a.h - the entry of SPEC.md Appendix A built in memory, and the
 * exact bytes and digests the appendix gives for its projections.
 */
#ifndef WL_APPENDIX_A_H
#define WL_APPENDIX_A_H

#include <string.h>

#include "weightslock.h"

#define A_LAYER_TAR "sha256:18eeb8a0d797e7682c36beef411bd830372e58e63bae7ab7cc49a921db5c057c"
#define A_LAYER_GZ "sha256:cb9f2d0524347a0318b1c2d25d87922efeed972445b67e04af1756a1790189c9"
#define A_SET_DIGEST "sha256:df918f9ee2fda72ca0cde55fb65400078a54143b2924811239256bc8bd503496"
#define A_DIGEST "sha256:d79dbbd85aa90a2b4f39196d6df9bad049bc3a3e2b19cc1ded0b98c456b08091"
#define A_FINGERPRINT "sha256:a57d03762ee9fb3550f9cc4f7273727846d0aeee367384b7ff5e6b6176fbc8bf"
#define A_CONFIG_DIGEST "sha256:ce7f7c52429462d2857e80d5a9e7476e96f5e32a397259b8d6a66a449c82c98e"
#define A_FILE_CONFIG "sha256:a774917976eeace378d7b0fb665b2e8803ee1183a5186169ad23d4c264d862c9"
#define A_FILE_MODEL "sha256:bce0aff19cf5aa6a7469a30d61d04e4376e4bbf6381052ee9e7f33925c954d52"
#define A_FILE_VOCAB "sha256:4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92"
#define A_FILE_README "sha256:bc70e26f40b8816eb177813dda1f5f529a27a4641d45aa19cae2348a8c6a5fe9"

#define A_CONFIG_BLOB                                                                                  \
	"{\"name\":\"demo\",\"target\":\"/src/weights/demo\",\"setDigest\":\"" A_SET_DIGEST            \
	"\",\"files\":[{\"path\":\"config.json\",\"layer\":\"" A_LAYER_GZ "\",\"size\":38,\"digest\":\"" \
	A_FILE_CONFIG "\"},{\"path\":\"model.safetensors\",\"layer\":\"" A_LAYER_TAR                    \
	"\",\"size\":100,\"digest\":\"" A_FILE_MODEL "\"},{\"path\":\"tokenizer/vocab.txt\",\"layer\":\"" \
	A_LAYER_GZ "\",\"size\":12,\"digest\":\"" A_FILE_VOCAB "\"}]}"

#define A_MANIFEST                                                                                     \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","             \
	"\"artifactType\":\"application/vnd.cog.weight.v1\",\"config\":{\"mediaType\":"                 \
	"\"application/vnd.cog.weight.config.v1+json\",\"size\":749,\"digest\":\"" A_CONFIG_DIGEST      \
	"\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":3072,"      \
	"\"digest\":\"" A_LAYER_TAR "\",\"annotations\":{\"run.cog.weight.size.uncompressed\":\"100\"}},"  \
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":283,\"digest\":\""     \
	A_LAYER_GZ "\",\"annotations\":{\"run.cog.weight.size.uncompressed\":\"50\"}}],"                \
	"\"annotations\":{\"run.cog.weight.name\":\"demo\",\"run.cog.weight.set-digest\":\""            \
	A_SET_DIGEST "\",\"run.cog.weight.target\":\"/src/weights/demo\"}}"

/* One descriptor of the appendix's index.json, with the ref name. */
#define A_INDEX_DESCRIPTOR                                                                             \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":903,\"digest\":\""       \
	A_DIGEST "\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"demo\","                  \
	"\"run.cog.weight.name\":\"demo\",\"run.cog.weight.set-digest\":\"" A_SET_DIGEST "\","          \
	"\"run.cog.weight.size.uncompressed\":\"150\"},\"platform\":{\"architecture\":\"unknown\","     \
	"\"os\":\"unknown\"},\"artifactType\":\"application/vnd.cog.weight.v1\"}"

typedef struct example_entry {
	wl_entry entry;
	wl_file files[3];
	wl_layer layers[2];
	wl_source source;
	wl_string exclude[1];
} example_entry;

/* Fills `x` with the appendix's entry, files and layers in canonical order. */
static inline void example_init(example_entry *x)
{
	memset(x, 0, sizeof *x);
	x->exclude[0] = wl_str("*.md");
	x->source.uri = wl_str("file://./weights");
	x->source.fingerprint = wl_str(A_FINGERPRINT);
	x->source.exclude = x->exclude;
	x->source.exclude_count = 1;
	x->files[0] = (wl_file){wl_str("config.json"), 38, wl_str(A_FILE_CONFIG), wl_str(A_LAYER_GZ)};
	x->files[1] = (wl_file){wl_str("model.safetensors"), 100, wl_str(A_FILE_MODEL), wl_str(A_LAYER_TAR)};
	x->files[2] = (wl_file){wl_str("tokenizer/vocab.txt"), 12, wl_str(A_FILE_VOCAB), wl_str(A_LAYER_GZ)};
	x->layers[0] = (wl_layer){wl_str(A_LAYER_TAR), wl_str(WL_MEDIA_TYPE_LAYER_TAR), 3072, 100};
	x->layers[1] = (wl_layer){wl_str(A_LAYER_GZ), wl_str(WL_MEDIA_TYPE_LAYER_TAR_GZIP), 283, 50};
	wl_entry *e = &x->entry;
	e->name = wl_str("demo");
	e->target = wl_str("/src/weights/demo");
	e->sources = &x->source;
	e->source_count = 1;
	e->sources_present = true;
	e->digest = wl_str(A_DIGEST);
	e->set_digest = wl_str(A_SET_DIGEST);
	e->size = 150;
	e->size_compressed = 3355;
	e->files = x->files;
	e->file_count = 3;
	e->files_present = true;
	e->layers = x->layers;
	e->layer_count = 2;
	e->layers_present = true;
}

#endif
