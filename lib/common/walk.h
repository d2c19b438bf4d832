/*
 * walk.h - an iterative directory walk at any depth, for the source walk,
 * verify's walk and extract's sweep (SPEC.md §15).
 *
 * The walk holds one directory descriptor whatever the depth: it enters a
 * directory with openat() from its parent and climbs back through "..",
 * each time checking the directory is the one it left (device and inode).
 * Names are read (sorted byte-wise) when a directory is entered, so the
 * caller may add or remove names as it visits them. The stack of levels is
 * on the heap; nothing recurses on the C stack.
 *
 * The walk sets no message: on failure it says what failed and where, and
 * each caller words the error in its own terms.
 */
#ifndef WL_WALK_H
#define WL_WALK_H

#include "common/internal.h"

#include <sys/stat.h>

typedef enum wl__walk_event {
	WL__WALK_END,   /* every name was visited */
	WL__WALK_ITEM,  /* a name of the current directory */
	WL__WALK_LEAVE, /* a directory entered was left: `item` names it, in
	                   the directory now current */
	WL__WALK_FAIL,  /* see wl__walk_failure */
} wl__walk_event;

typedef enum wl__walk_failure {
	WL__WALK_NOMEM,
	WL__WALK_OPEN,    /* opening a directory failed (errno) */
	WL__WALK_READ,    /* listing a directory failed (errno) */
	WL__WALK_CHANGED, /* the directory entered is not the one stat saw */
	WL__WALK_UP,      /* climbing back failed (errno) */
	WL__WALK_MOVED,   /* ".." is not the directory the walk came from */
} wl__walk_failure;

typedef struct wl__walk_item {
	const char *name; /* in the current directory (wl__walk_fd) */
	wl_string rel;    /* relative to the root, NUL-terminated; "" for the root */
	struct stat st;   /* lstat of the name (ITEM only) */
	int stat_errno;   /* 0, or why fstatat failed (ITEM only) */
	size_t depth;     /* 0: a name in the root */
	long tag;         /* the caller's tag of the directory holding it (ITEM),
	                     or of the directory left (LEAVE) */
} wl__walk_item;

typedef struct wl__walk_level wl__walk_level;

typedef struct wl__walk {
	wl__walk_level *levels;
	size_t depth, cap;
	wl_buf rel;
	int fd; /* the current directory */
	/* The last failure. */
	wl__walk_failure failure;
	int failure_errno;
	wl_string failure_rel; /* the directory concerned */
	bool pending_leave;
} wl__walk;

/** Starts at the directory open at `fd` (which the walk takes over and
 *  closes), with `tag` for its names. WL__WALK_FAIL on failure, else
 *  WL__WALK_ITEM. wl__walk_close must be called either way. */
wl__walk_event wl__walk_start(wl__walk *w, int fd, long tag);
/** The next event. */
wl__walk_event wl__walk_next(wl__walk *w, wl__walk_item *item);
/** Enters the directory `item` (just returned as an ITEM, and a directory),
 *  whose names are then visited with `tag`; a LEAVE event follows them.
 *  WL__WALK_FAIL on failure. */
wl__walk_event wl__walk_enter(wl__walk *w, const wl__walk_item *item, long tag);
/** For a failure with an errno (OPEN, READ, UP): what failed, as a verb
 *  phrase ("open directory", "read directory", "open the parent of");
 *  NULL for NOMEM, CHANGED and MOVED. */
const char *wl__walk_failed_op(const wl__walk *w);
/** The descriptor of the current directory (valid until the next call). */
int wl__walk_fd(const wl__walk *w);
void wl__walk_close(wl__walk *w);

#endif
