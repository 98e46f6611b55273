/* SPDX-License-Identifier: MIT */
#ifndef CTL_YAML_TREE_H
#define CTL_YAML_TREE_H

/*
 * YAML documents as a tree that remembers where each value came from, so a
 * config error can name the file, the line and the key. libyaml parses;
 * this module keeps only what a Nebula config needs: maps with scalar keys,
 * sequences and scalars. Aliases are expanded (with a bound on the total
 * size, so a "billion laughs" file fails cleanly); YAML merge keys ("<<")
 * are plain keys here, as nothing in a Nebula config uses them.
 *
 * Several files (nebula -config DIR) are merged the way nebula 1.6.1 merges
 * them (mergo.Merge with WithAppendSlice, later file as destination): maps
 * merge key by key, sequences concatenate (later file's items first), and a
 * scalar from a later file wins unless it is empty (null, "", 0 or false),
 * in which case an earlier non-empty value stays.
 */

#include <stdbool.h>
#include <stddef.h>

struct vl_status;

enum ctl_yaml_kind {
	CTL_YAML_NULL,   /* "~", "null", an empty value */
	CTL_YAML_SCALAR,
	CTL_YAML_MAP,
	CTL_YAML_SEQ,
};

struct ctl_yaml_node {
	enum ctl_yaml_kind kind;
	const char *file; /* owned by the tree */
	unsigned int line; /* 1-based */
	char *text;        /* SCALAR: the value; MAP entry keys too */
	bool quoted;       /* a quoted scalar is always a string */
	/* MAP: keys[i] -> items[i]; SEQ: items[i]. */
	char **keys;
	unsigned int *key_lines;
	struct ctl_yaml_node **items;
	size_t n;
};

struct ctl_yaml_tree {
	struct ctl_yaml_node *root; /* a MAP (empty when the files were empty) */
	char **files;
	size_t n_files;
	size_t n_nodes;
};

/* Node budget per tree: far above any real config, far below a YAML bomb. */
#define CTL_YAML_MAX_NODES 100000
#define CTL_YAML_MAX_DEPTH 64

/*
 * Loads @path: a file, or a directory whose *.yml and *.yaml files (found
 * recursively, sorted by path) are merged. 0, or -errno with "file:line:
 * reason" in @st; on error @tree is left empty.
 */
int ctl_yaml_load(struct ctl_yaml_tree *tree, const char *path,
		  struct vl_status *st);

/* Parses one document held in memory; @name is used in messages. */
int ctl_yaml_load_string(struct ctl_yaml_tree *tree, const char *name,
			 const char *text, size_t len, struct vl_status *st);

void ctl_yaml_free(struct ctl_yaml_tree *tree);

/* The value at a dotted path ("listen.port") below @map, or NULL. */
const struct ctl_yaml_node *ctl_yaml_get(const struct ctl_yaml_node *map,
					 const char *path);

/* The value of @key in @map (one level, no dots), or NULL. */
const struct ctl_yaml_node *ctl_yaml_map_get(const struct ctl_yaml_node *map,
					     const char *key);

#endif /* CTL_YAML_TREE_H */
