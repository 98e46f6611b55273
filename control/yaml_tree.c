/* SPDX-License-Identifier: MIT */
#include "yaml_tree.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "status.h"

#define CONFIG_FILE_MAX (16u << 20)

struct builder {
	struct ctl_yaml_tree *tree;
	yaml_document_t *doc;
	const char *file;
	struct vl_status *st;
};

static void node_free(struct ctl_yaml_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		node_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->key_lines);
	free(n->text);
	free(n);
}

static struct ctl_yaml_node *node_new(struct ctl_yaml_tree *tree,
				      enum ctl_yaml_kind kind, const char *file,
				      unsigned int line)
{
	struct ctl_yaml_node *n;

	if (tree->n_nodes >= CTL_YAML_MAX_NODES)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	tree->n_nodes++;
	n->kind = kind;
	n->file = file;
	n->line = line;
	return n;
}

/* Appends an item (and for a map its key) to @n; takes ownership of both. */
static int append(struct ctl_yaml_node *n, char *key, unsigned int key_line,
		  struct ctl_yaml_node *item)
{
	struct ctl_yaml_node **items;

	items = realloc(n->items, (n->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	n->items = items;
	if (n->kind == CTL_YAML_MAP) {
		char **keys = realloc(n->keys, (n->n + 1) * sizeof(*keys));
		unsigned int *lines;

		if (!keys)
			return -ENOMEM;
		n->keys = keys;
		lines = realloc(n->key_lines, (n->n + 1) * sizeof(*lines));
		if (!lines)
			return -ENOMEM;
		n->key_lines = lines;
		n->keys[n->n] = key;
		n->key_lines[n->n] = key_line;
	}
	n->items[n->n++] = item;
	return 0;
}

/* A plain (unquoted) scalar that YAML reads as null. */
static bool is_null(const yaml_node_t *y)
{
	const char *v = (const char *)y->data.scalar.value;

	if (y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int build(struct builder *b, yaml_node_t *y, unsigned int depth,
		 struct ctl_yaml_node **out);

static int fail_at(struct builder *b, unsigned int line, int err,
		   const char *what)
{
	return vl_status_set(b->st, err, "%s:%u: %s", b->file, line, what);
}

static int build_map(struct builder *b, yaml_node_t *y, unsigned int depth,
		     struct ctl_yaml_node *n)
{
	for (yaml_node_pair_t *p = y->data.mapping.pairs.start;
	     p < y->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(b->doc, p->value);
		unsigned int line = k ? (unsigned int)k->start_mark.line + 1 : n->line;
		struct ctl_yaml_node *item;
		char *key;
		int err;

		if (!k || !v)
			return fail_at(b, line, -EINVAL, "broken mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail_at(b, line, -EINVAL,
				       "a key must be a plain value, not a list or map");
		for (size_t i = 0; i < n->n; i++) {
			if (strcmp(n->keys[i], (const char *)k->data.scalar.value))
				continue;
			vl_status_set(b->st, -EINVAL,
				      "%s:%u: key \"%s\" repeats the one on line %u",
				      b->file, line, n->keys[i], n->key_lines[i]);
			return -EINVAL;
		}
		key = strdup((const char *)k->data.scalar.value);
		if (!key)
			return -ENOMEM;
		err = build(b, v, depth + 1, &item);
		if (err) {
			free(key);
			return err;
		}
		err = append(n, key, line, item);
		if (err) {
			free(key);
			node_free(item);
			return err;
		}
	}
	return 0;
}

static int build(struct builder *b, yaml_node_t *y, unsigned int depth,
		 struct ctl_yaml_node **out)
{
	unsigned int line = (unsigned int)y->start_mark.line + 1;
	struct ctl_yaml_node *n;
	int err = 0;

	*out = NULL;
	if (depth > CTL_YAML_MAX_DEPTH)
		return fail_at(b, line, -E2BIG, "nested too deeply");

	switch (y->type) {
	case YAML_SCALAR_NODE:
		n = node_new(b->tree, is_null(y) ? CTL_YAML_NULL : CTL_YAML_SCALAR,
			     b->file, line);
		if (!n)
			break;
		if (n->kind == CTL_YAML_SCALAR) {
			n->quoted = y->data.scalar.style !=
				    YAML_PLAIN_SCALAR_STYLE;
			n->text = strdup((const char *)y->data.scalar.value);
			if (!n->text)
				err = -ENOMEM;
			else if (strlen(n->text) != y->data.scalar.length)
				err = fail_at(b, line, -EINVAL,
					      "a value contains a NUL character");
		}
		break;
	case YAML_SEQUENCE_NODE:
		n = node_new(b->tree, CTL_YAML_SEQ, b->file, line);
		for (yaml_node_item_t *i = y->data.sequence.items.start;
		     n && !err && i < y->data.sequence.items.top; i++) {
			yaml_node_t *c = yaml_document_get_node(b->doc, *i);
			struct ctl_yaml_node *item;

			if (!c) {
				err = fail_at(b, line, -EINVAL, "broken list");
				break;
			}
			err = build(b, c, depth + 1, &item);
			if (!err && append(n, NULL, 0, item)) {
				node_free(item);
				err = -ENOMEM;
			}
		}
		break;
	case YAML_MAPPING_NODE:
		n = node_new(b->tree, CTL_YAML_MAP, b->file, line);
		if (n)
			err = build_map(b, y, depth, n);
		break;
	case YAML_NO_NODE:
	default:
		n = node_new(b->tree, CTL_YAML_NULL, b->file, line);
		break;
	}
	if (!n) {
		if (b->tree->n_nodes >= CTL_YAML_MAX_NODES)
			return fail_at(b, line, -E2BIG,
				       "too many values (aliases expanding without end?)");
		return vl_status_set(b->st, -ENOMEM, "out of memory");
	}
	if (err) {
		if (err == -ENOMEM)
			vl_status_set(b->st, err, "out of memory");
		node_free(n);
		return err;
	}
	*out = n;
	return 0;
}

static const char *intern_file(struct ctl_yaml_tree *tree, const char *name)
{
	char **files = realloc(tree->files,
			       (tree->n_files + 1) * sizeof(*files));

	if (!files)
		return NULL;
	tree->files = files;
	files[tree->n_files] = strdup(name);
	return files[tree->n_files] ? files[tree->n_files++] : NULL;
}

/* One document into a MAP node (an empty file is an empty map). */
static int parse_doc(struct ctl_yaml_tree *tree, const char *name,
		     const char *text, size_t len, struct ctl_yaml_node **out,
		     struct vl_status *st)
{
	struct builder b = { .tree = tree, .st = st };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int err;

	*out = NULL;
	b.file = intern_file(tree, name);
	if (!b.file)
		return vl_status_set(st, -ENOMEM, "out of memory");
	if (!yaml_parser_initialize(&parser))
		return vl_status_set(st, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err = vl_status_set(st, -EINVAL, "%s:%zu: %s%s%s", name,
				    parser.problem_mark.line + 1,
				    parser.problem ? parser.problem :
						     "not valid YAML",
				    parser.context ? " " : "",
				    parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return err;
	}
	b.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || (root->type == YAML_SCALAR_NODE && is_null(root))) {
		*out = node_new(tree, CTL_YAML_MAP, b.file, 1);
		err = *out ? 0 : vl_status_set(st, -ENOMEM, "out of memory");
	} else if (root->type != YAML_MAPPING_NODE) {
		err = vl_status_set(st, -EINVAL,
				    "%s:%zu: the top level must be a map of settings",
				    name, root->start_mark.line + 1);
	} else {
		err = build(&b, root, 0, out);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return err;
}

/* mergo's isEmptyValue for what YAML gives Go: nil, "", 0, false. */
static bool is_empty(const struct ctl_yaml_node *n)
{
	if (n->kind == CTL_YAML_NULL)
		return true;
	if (n->kind != CTL_YAML_SCALAR)
		return n->n == 0;
	if (n->quoted)
		return !*n->text;
	return !*n->text || !strcmp(n->text, "0") || !strcasecmp(n->text, "false");
}

/*
 * Merges @src (earlier files) into @dst (a later file); see the header for
 * the rules. A node either moves into @dst (its slot in @src becomes NULL)
 * or stays in @src, which the caller frees whole afterwards, error or not.
 */
static int merge(struct ctl_yaml_node *dst, struct ctl_yaml_node *src)
{
	int err;

	for (size_t i = 0; i < src->n; i++) {
		struct ctl_yaml_node *s = src->items[i], *d = NULL;
		size_t k;

		for (k = 0; k < dst->n; k++) {
			if (!strcmp(dst->keys[k], src->keys[i])) {
				d = dst->items[k];
				break;
			}
		}
		if (!d) {
			err = append(dst, src->keys[i], src->key_lines[i], s);
			if (err)
				return err;
			src->keys[i] = NULL;
			src->items[i] = NULL;
		} else if (d->kind == CTL_YAML_MAP && s->kind == CTL_YAML_MAP) {
			err = merge(d, s);
			if (err)
				return err;
		} else if (d->kind == CTL_YAML_SEQ && s->kind == CTL_YAML_SEQ) {
			for (size_t j = 0; j < s->n; j++) {
				err = append(d, NULL, 0, s->items[j]);
				if (err)
					return err;
				s->items[j] = NULL;
			}
		} else if (is_empty(d) && !is_empty(s)) {
			node_free(d);
			dst->items[k] = s;
			src->items[i] = NULL;
		}
	}
	return 0;
}

static int read_text(const char *path, char **text, size_t *len,
		     struct vl_status *st)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	size_t n;

	*text = NULL;
	if (!f)
		return vl_status_set(st, -errno, "%s: cannot read: %s", path,
				     strerror(errno));
	if (fstat(fileno(f), &sb) || sb.st_size > CONFIG_FILE_MAX) {
		fclose(f);
		return vl_status_set(st, -EFBIG, "%s: not a config file (too large)",
				     path);
	}
	*text = malloc((size_t)sb.st_size + 1);
	if (!*text) {
		fclose(f);
		return vl_status_set(st, -ENOMEM, "out of memory");
	}
	n = fread(*text, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		free(*text);
		*text = NULL;
		fclose(f);
		return vl_status_set(st, -EIO, "%s: cannot read", path);
	}
	fclose(f);
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

struct file_list {
	char **paths;
	size_t n;
};

static bool has_yaml_suffix(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

/* nebula's resolve(): the file itself, or the YAML files under a directory. */
static int collect(const char *path, bool direct, struct file_list *fl,
		   unsigned int depth, struct vl_status *st)
{
	struct dirent **names;
	struct stat sb;
	int n, err = 0;

	if (stat(path, &sb))
		return direct ? vl_status_set(st, -errno, "%s: %s", path,
					      strerror(errno)) :
				0;
	if (!S_ISDIR(sb.st_mode)) {
		char **paths;

		if (!direct && !has_yaml_suffix(path))
			return 0;
		paths = realloc(fl->paths, (fl->n + 1) * sizeof(*paths));
		if (!paths)
			return vl_status_set(st, -ENOMEM, "out of memory");
		fl->paths = paths;
		fl->paths[fl->n] = strdup(path);
		if (!fl->paths[fl->n])
			return vl_status_set(st, -ENOMEM, "out of memory");
		fl->n++;
		return 0;
	}
	if (depth > 16)
		return vl_status_set(st, -ELOOP, "%s: directories nested too deeply",
				     path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return vl_status_set(st, -errno, "%s: cannot read directory: %s",
				     path, strerror(errno));
	for (int i = 0; i < n; i++) {
		char *child;

		if (!err && names[i]->d_name[0] != '.') {
			if (asprintf(&child, "%s/%s", path, names[i]->d_name) < 0)
				err = vl_status_set(st, -ENOMEM, "out of memory");
			else {
				err = collect(child, false, fl, depth + 1, st);
				free(child);
			}
		}
		free(names[i]);
	}
	free(names);
	return err;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ctl_yaml_load_string(struct ctl_yaml_tree *tree, const char *name,
			 const char *text, size_t len, struct vl_status *st)
{
	int err;

	memset(tree, 0, sizeof(*tree));
	err = parse_doc(tree, name, text, len, &tree->root, st);
	if (err)
		ctl_yaml_free(tree);
	return err;
}

int ctl_yaml_load(struct ctl_yaml_tree *tree, const char *path,
		  struct vl_status *st)
{
	struct file_list fl = { 0 };
	int err;

	memset(tree, 0, sizeof(*tree));
	err = collect(path, true, &fl, 0, st);
	if (!err && !fl.n)
		err = vl_status_set(st, -ENOENT, "no config files found at %s",
				    path);
	if (err)
		goto free_list;
	/* nebula sorts the full paths, not each directory level. */
	qsort(fl.paths, fl.n, sizeof(*fl.paths), cmp_path);

	for (size_t i = 0; i < fl.n; i++) {
		struct ctl_yaml_node *doc;
		char *text;
		size_t len = 0;

		err = read_text(fl.paths[i], &text, &len, st);
		if (err)
			break;
		err = parse_doc(tree, fl.paths[i], text, len, &doc, st);
		free(text);
		if (err)
			break;
		if (tree->root) {
			err = merge(doc, tree->root);
			node_free(tree->root);
			tree->root = NULL;
			if (err) {
				node_free(doc);
				vl_status_set(st, err, "out of memory");
				break;
			}
		}
		tree->root = doc;
	}
	if (err)
		ctl_yaml_free(tree);
free_list:
	for (size_t i = 0; i < fl.n; i++)
		free(fl.paths[i]);
	free(fl.paths);
	return err;
}

void ctl_yaml_free(struct ctl_yaml_tree *tree)
{
	node_free(tree->root);
	for (size_t i = 0; i < tree->n_files; i++)
		free(tree->files[i]);
	free(tree->files);
	memset(tree, 0, sizeof(*tree));
}

const struct ctl_yaml_node *ctl_yaml_map_get(const struct ctl_yaml_node *map,
					     const char *key)
{
	if (!map || map->kind != CTL_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return map->items[i];
	return NULL;
}

const struct ctl_yaml_node *ctl_yaml_get(const struct ctl_yaml_node *map,
					 const char *path)
{
	char part[128];
	const char *dot;

	while (map && (dot = strchr(path, '.'))) {
		size_t n = (size_t)(dot - path);

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		map = ctl_yaml_map_get(map, part);
		path = dot + 1;
	}
	return ctl_yaml_map_get(map, path);
}
