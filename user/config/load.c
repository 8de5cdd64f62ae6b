// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * YAML configuration -> struct sl_config: the loader (config.h).
 *
 * The input is one or more files (a directory stands for its *.yaml and
 * *.yml files), each a stream of YAML documents. We load one document at a
 * time as a libyaml document (yaml_load.h) so that every node keeps its
 * start mark, and walk it once into the one merged config: checks that span
 * services (duplicate names, a (VIP, port) taken twice, the table limit)
 * compare against everything read before, whatever file it came from.
 * Validation problems are collected in the caller's sl_diag instead of
 * stopping at the first one: an operator fixing a file wants to see every
 * mistake in one run. Only allocation failures abort the walk.
 *
 * This file owns files, directories, streams and documents, and sends each
 * document by kind to a front end: sluice's own format (ours.h) or
 * Kubernetes objects (k8s.h). It may call both; neither calls back here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "config/config.h"
#include "config/k8s.h"
#include "config/ours.h"
#include "config/yaml_load.h"
#include "config/yaml_node.h"
#include "lib/log.h"

static int parse_k8s(struct ctx *c, const yaml_node_t *n, const yaml_node_t *av,
		     const yaml_node_t *kind, bool in_list)
{
	const char *a, *k;
	yaml_node_t *items;
	struct sl_pos pos;
	size_t i;
	int err;

	if (!sl_ours_want_type(c, av, YAML_SCALAR_NODE, "'apiVersion'") ||
	    !sl_ours_want_type(c, kind, YAML_SCALAR_NODE, "'kind'"))
		return 0;
	a = sl_yaml_scalar(av);
	k = sl_yaml_scalar(kind);
	pos = sl_ours_node_pos(c, n);

	/*
	 * `kubectl get ... -o yaml` wraps what it prints in a v1 List; the API
	 * lists one kind as a typed list (VirtualServiceList...).
	 */
	if (!strcmp(k, "List") ||
	    (sl_k8s_kind(a, k) && strlen(k) > 4 && !strcmp(k + strlen(k) - 4, "List"))) {
		if (in_list) {
			sl_ours_error_at(c, n, "a List inside a List is not supported");
			return 0;
		}
		items = sl_yaml_get(c->doc, n, "items");
		if (!items || (items->type == YAML_SCALAR_NODE && !items->data.scalar.length)) {
			pr_debug("%s:%d: an empty List\n", pos.file, pos.line);
			return 0;
		}
		if (!sl_ours_want_type(c, items, YAML_SEQUENCE_NODE, "'items' of a List"))
			return 0;
		for (i = 0; i < sl_yaml_seq_len(items); i++) {
			yaml_node_t *it = sl_yaml_seq_item(c->doc, items, i), *iav, *ik;

			if (it->type != YAML_MAPPING_NODE) {
				sl_ours_error_at(
				    c, it,
				    "item %zu of the List must be a Kubernetes object, not %s",
				    i + 1, sl_yaml_type_name(it));
				continue;
			}
			iav = sl_yaml_get(c->doc, it, "apiVersion");
			ik = sl_yaml_get(c->doc, it, "kind");
			if (!iav || !ik) {
				sl_ours_error_at(
				    c, it,
				    "item %zu of the List is missing '%s'; every item must be a "
				    "Kubernetes object with 'apiVersion' and 'kind'",
				    i + 1, iav ? "kind" : "apiVersion");
				continue;
			}
			err = parse_k8s(c, it, iav, ik, true);
			if (err)
				return err;
		}
		return 0;
	}

	if (sl_k8s_kind(a, k)) {
		if (!c->k8s && !(c->k8s = sl_k8s_new(c->isolate)))
			return -ENOMEM;
		c->k8s_objects++;
		return sl_k8s_add(c->k8s, c->doc, (yaml_node_t *)n, c->file, c->diag);
	}
	pr_debug("%s:%d: skipping %s %s: sluice does not use this kind\n", pos.file, pos.line, a,
		 k);
	return 0;
}

/* "---" with nothing after it; also an explicit null. */
static bool empty_document(const yaml_node_t *root)
{
	const char *s = sl_yaml_scalar(root);

	return s && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

/* One document: our own format, a Kubernetes object, or nothing. */
static int parse_document(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_t *av, *kind;

	if (empty_document(root)) {
		pr_debug("%s:%d: an empty document\n", c->file, sl_ours_node_pos(c, root).line);
		return 0;
	}
	c->n_docs++;
	if (root->type != YAML_MAPPING_NODE) {
		sl_ours_error_at(c, root,
				 "the top level must be a mapping with a 'services' list, not %s",
				 sl_yaml_type_name(root));
		return 0;
	}
	av = sl_yaml_get(c->doc, root, "apiVersion");
	kind = sl_yaml_get(c->doc, root, "kind");
	if (av && kind)
		return parse_k8s(c, root, av, kind, false);
	if (sl_yaml_get(c->doc, root, "services") || sl_yaml_get(c->doc, root, "workloads"))
		return sl_ours_add(c, root);
	if (av || kind)
		sl_ours_error_at(
		    c, root, "this document has '%s' but no '%s'; a Kubernetes object needs both",
		    av ? "apiVersion" : "kind", av ? "kind" : "apiVersion");
	else
		sl_ours_error_at(
		    c, root,
		    "this document is neither a sluice configuration (with 'services' or "
		    "'workloads') nor a Kubernetes object (with 'apiVersion' and 'kind')");
	sl_ours_check_keys(c, root, sl_ours_root_keys, "at the top level");
	return 0;
}

static void report_yaml_error(struct ctx *c, const yaml_parser_t *parser)
{
	struct sl_pos pos = {
	    .file = c->file,
	    .line = (int)parser->problem_mark.line + 1,
	    .col = (int)parser->problem_mark.column + 1,
	};
	const char *problem = parser->problem ? parser->problem : "cannot parse";

	if (parser->error == YAML_MEMORY_ERROR)
		problem = "out of memory";
	if (parser->context)
		sl_diag_add(c->diag, &pos, "error",
			    "invalid YAML: %s (%s that starts at line %zu, column %zu)", problem,
			    parser->context, parser->context_mark.line + 1,
			    parser->context_mark.column + 1);
	else
		sl_diag_add(c->diag, &pos, "error", "invalid YAML: %s", problem);
}

/* One item of a top-level 'services' list, as soon as it is parsed (yaml_load.h). */
static int stream_service(void *arg, yaml_document_t *doc, const yaml_node_t *item, size_t idx)
{
	struct ctx *c = arg;
	int err;

	if (sl_reserve((void **)&c->cfg->services, &c->services_cap, c->cfg->n_services, 1,
		       sizeof(*c->cfg->services)))
		return -ENOMEM;
	c->doc = doc;
	err = sl_ours_parse_service(c, item, idx);
	c->doc = NULL;
	return err;
}

/* What reading services while their document is parsed changes. */
struct doc_mark {
	struct sl_diag_mark dm;
	size_t n_services, n_keys;
	bool keys_reported;
};

static void doc_begin(const struct ctx *c, struct doc_mark *m)
{
	m->dm = sl_diag_mark(c->diag);
	m->n_services = c->cfg->n_services;
	m->n_keys = c->n_keys;
	m->keys_reported = c->keys_reported;
}

static void doc_undo(struct ctx *c, const struct doc_mark *m)
{
	sl_diag_drop(c->diag, &m->dm);
	sl_config_drop_services(c->cfg, m->n_services);
	c->n_keys = m->n_keys;
	c->keys_reported = m->keys_reported;
}

static int parser_open(yaml_parser_t *parser, const char *buf, size_t len)
{
	if (!yaml_parser_initialize(parser))
		return -ENOMEM;
	/* libyaml asserts on a NULL input, even an empty one. */
	yaml_parser_set_input_string(parser, (const unsigned char *)(buf ? buf : ""),
				     buf ? len : 0);
	return 0;
}

/* The parser again at document `docs` of buf: the ones before it loaded and dropped. */
static int parser_reopen(yaml_parser_t *parser, const char *buf, size_t len, size_t docs)
{
	struct sl_yaml_doc doc;
	int err;

	yaml_parser_delete(parser);
	err = parser_open(parser, buf, len);
	for (; !err && docs; docs--) {
		/* they loaded before: only memory can fail them */
		if (!sl_yaml_load(parser, &doc))
			err = -ENOMEM;
		sl_yaml_doc_free(&doc);
	}
	return err;
}

/* Every document of one file (or buffer) into c->cfg; 0 or -ENOMEM. */
static int parse_stream(struct ctx *c, const char *buf, size_t len)
{
	struct sl_yaml_stream s;
	yaml_parser_t parser;
	struct sl_yaml_doc doc;
	struct doc_mark m;
	yaml_node_t *root;
	bool whole = c->whole_docs;
	size_t docs = 0;
	int err;

	err = parser_open(&parser, buf, len);
	if (err)
		return err;
	for (;;) {
		s = (struct sl_yaml_stream){.item = stream_service, .arg = c};
		doc_begin(c, &m);
		if (!sl_yaml_load_stream(&parser, &doc, whole ? NULL : &s)) {
			err = s.err;
			if (err)
				break;
			/* not a document whose services can be read early: again, whole */
			if (s.abandoned) {
				doc_undo(c, &m);
				err = parser_reopen(&parser, buf, len, docs);
				if (err)
					break;
				whole = true;
				continue;
			}
			/* After a syntax error the parser cannot find the next document. */
			report_yaml_error(c, &parser);
			if (parser.error == YAML_MEMORY_ERROR)
				err = -ENOMEM;
			break;
		}
		whole = c->whole_docs;
		root = yaml_document_get_root_node(&doc.doc);
		if (!root) { /* the end of the stream */
			sl_yaml_doc_free(&doc);
			break;
		}
		c->doc = &doc.doc;
		c->streamed = s.items;
		err = parse_document(c, root);
		c->streamed = 0;
		c->doc = NULL;
		sl_yaml_doc_free(&doc);
		docs++;
		if (err)
			break;
	}
	yaml_parser_delete(&parser);
	return err;
}

/* Add name to cfg->files and make it the file positions point to. */
static int begin_file(struct ctx *c, const char *name)
{
	struct sl_config *cfg = c->cfg;
	char **files, *copy;

	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	files = realloc(cfg->files, (cfg->n_files + 1) * sizeof(*files));
	if (!files) {
		free(copy);
		return -ENOMEM;
	}
	cfg->files = files;
	cfg->files[cfg->n_files++] = copy;
	c->file = copy;
	return 0;
}

static void check_added(void *arg, size_t idx)
{
	sl_ours_check_added_service(arg, idx);
}

/* Kubernetes and Istio objects into services and workloads, once all are read. */
static int build_k8s(struct ctx *c)
{
	size_t added = 0;
	int err;

	if (!c->k8s)
		return 0;
	err = sl_k8s_build(c->k8s, c->cfg, c->diag, check_added, c, &added);
	if (err)
		return err;
	c->services_seen += added;
	c->k8s_left_alone = sl_k8s_left_alone(c->k8s);
	return 0;
}

/* Where a load stood before a file, to leave the whole file out again. */
struct file_mark {
	struct sl_diag_mark dm;
	struct sl_k8s_mark km;
	size_t n_services, n_workloads, n_keys, services_seen;
	bool keys_reported;
};

static void file_begin(struct ctx *c, struct file_mark *f)
{
	f->dm = sl_diag_mark(c->diag);
	if (c->k8s)
		sl_k8s_mark(c->k8s, &f->km);
	else
		memset(&f->km, 0, sizeof(f->km));
	f->n_services = c->cfg->n_services;
	f->n_workloads = c->cfg->n_workloads;
	f->n_keys = c->n_keys;
	f->services_seen = c->services_seen;
	f->keys_reported = c->keys_reported;
}

/*
 * An isolated load: a file with errors that no Kubernetes object took as
 * its own (invalid YAML, sluice's own format, a List's structure) is left
 * out whole, with the objects read from it. 0 or -ENOMEM.
 */
static int file_end(struct ctx *c, const struct file_mark *f, const char *name)
{
	const char *reason;

	if (!c->isolate || !sl_diag_errors_since(c->diag, &f->dm))
		return 0;
	if (c->k8s)
		sl_k8s_forget(c->k8s, &f->km);
	sl_config_drop_services(c->cfg, f->n_services);
	sl_config_drop_workloads(c->cfg, f->n_workloads);
	c->n_keys = f->n_keys;
	c->services_seen = f->services_seen;
	c->keys_reported = f->keys_reported;
	reason = sl_diag_forgive(c->diag, &f->dm);
	sl_diag_add(c->diag, &(struct sl_pos){.file = name}, "warning",
		    "this file is left out; the rest of the configuration is applied");
	return sl_config_reject(c->cfg, "File", "", name, &(struct sl_pos){name, 1, 1}, reason);
}

/*
 * Whole-config checks once everything is read: at least one service. Said
 * only when nothing else is wrong: with a VirtualService rejected, "no
 * services" would be noise.
 */
static void finish(struct ctx *c, const char *what, size_t errors_before)
{
	struct sl_pos pos = {.file = what};

	/*
	 * VirtualServices left alone (gateways only, external hosts, Services
	 * without a cluster IP yet) each said why already: no wall of errors.
	 */
	if (c->services_seen || c->k8s_left_alone || c->diag->n_errors > errors_before)
		return;
	if (c->empty_services.line)
		sl_diag_add(c->diag, &c->empty_services, "error",
			    "'services' is empty; at least one service is needed");
	else if (c->own_docs == 1)
		sl_diag_add(c->diag, &c->first_own, "error",
			    "no 'services' at the top level; at least one service is needed");
	else if (c->own_docs)
		sl_diag_add(c->diag, &c->first_own, "error",
			    "no document has 'services'; at least one service is needed");
	else if (c->k8s_objects)
		sl_diag_add(c->diag, &pos, "error",
			    "no VirtualService routes a Service, and there is no sluice "
			    "configuration; at least one service is needed");
	else if (c->cfg->n_files == 1 && !c->n_docs)
		sl_diag_add(c->diag, &(struct sl_pos){c->cfg->files[0], 1, 1}, "error",
			    "the file is empty; it needs a 'services' list");
	else
		sl_diag_add(c->diag, &pos, "error",
			    "no sluice configuration found (only empty documents and kinds "
			    "sluice skips); at least one service is needed");
}

uint64_t sl_config_digest(const char *buf, size_t len)
{
	return sl_fnv1a(SL_FNV1A_INIT, buf, len);
}

int sl_read_file(const char *path, char **out, size_t *out_len)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;
	int err = 0;
	FILE *f;

	*out = NULL;
	*out_len = 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (ferror(f))
		err = errno ? -errno : -EIO;
out:
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* Inputs */

bool sl_config_yaml_name(const char *name)
{
	size_t len = strlen(name);

	/* Hidden names are editors' (".#x.yaml" is Emacs' lock, a dangling link). */
	if (name[0] == '.')
		return false;
	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

struct file_list {
	char **paths;
	struct stat *st; /* to notice one file given twice */
	size_t n, cap, st_cap;
};

/* Keep the first error, but a system error wins over an invalid input. */
static void keep_err(int *err, int e)
{
	if (e && (!*err || (*err == -EINVAL && e != -EINVAL)))
		*err = e;
}

/* Append path (taken over, freed on error). */
static int push_file(struct file_list *l, char *path, const struct stat *st, struct sl_diag *diag)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->st[i].st_dev == st->st_dev && l->st[i].st_ino == st->st_ino) {
			sl_diag_add(diag, &(struct sl_pos){.file = path}, "error",
				    "this is the same file as %s; give each file once",
				    l->paths[i]);
			free(path);
			return -EINVAL;
		}
	}
	if (sl_reserve((void **)&l->paths, &l->cap, l->n, 1, sizeof(*l->paths)) ||
	    sl_reserve((void **)&l->st, &l->st_cap, l->n, 1, sizeof(*l->st))) {
		free(path);
		return -ENOMEM;
	}
	l->st[l->n] = *st;
	l->paths[l->n++] = path;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Like `kubectl apply -f DIR`: its *.yaml and *.yml files, by name, not recursive. */
static int list_dir(struct file_list *l, const char *dir, struct sl_diag *diag)
{
	struct sl_pos pos = {.file = dir};
	size_t n = 0, cap = 0, i, found = 0, dlen = strlen(dir);
	char **names = NULL, *path;
	struct dirent *de;
	struct stat st;
	int err = 0, e;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		err = -errno;
		sl_diag_add(diag, &pos, "error", "cannot read the directory: %s", strerror(-err));
		return err;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err = -errno;
				sl_diag_add(diag, &pos, "error", "cannot read the directory: %s",
					    strerror(-err));
			}
			break;
		}
		if (!sl_config_yaml_name(de->d_name))
			continue;
		if (sl_reserve((void **)&names, &cap, n, 1, sizeof(*names)) ||
		    !(names[n] = strdup(de->d_name))) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	/* an empty directory leaves names NULL, which qsort may not be given */
	if (!err && n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !err; i++) {
		if (asprintf(&path, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/",
			     names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		if (stat(path, &st)) {
			e = -errno;
			sl_diag_add(diag, &(struct sl_pos){.file = path}, "error",
				    "cannot read the file: %s", strerror(-e));
			keep_err(&err, e);
			free(path);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			pr_debug("%s: not a regular file, skipped\n", path);
			free(path);
			continue;
		}
		found++;
		e = push_file(l, path, &st, diag);
		if (e == -ENOMEM)
			err = e;
		keep_err(&err, e);
	}
	if (!err && !found) {
		sl_diag_add(diag, &pos, "error",
			    "the directory has no *.yaml or *.yml files; sluice reads those");
		err = -EINVAL;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

int sl_config_list_files(const char *const paths[], size_t n, char ***files, size_t *n_files,
			 struct sl_diag *diag)
{
	struct file_list l = {0};
	struct stat st;
	size_t i;
	int err = 0, e;
	char *copy;

	*files = NULL;
	*n_files = 0;
	if (!n) {
		sl_diag_add(diag, NULL, "error", "no configuration file given");
		return -EINVAL;
	}
	for (i = 0; i < n && err != -ENOMEM; i++) {
		if (stat(paths[i], &st)) {
			e = -errno;
			sl_diag_add(diag, &(struct sl_pos){.file = paths[i]}, "error",
				    "cannot read the file: %s", strerror(-e));
		} else if (S_ISDIR(st.st_mode)) {
			e = list_dir(&l, paths[i], diag);
		} else {
			copy = strdup(paths[i]);
			e = copy ? push_file(&l, copy, &st, diag) : -ENOMEM;
		}
		if (e == -ENOMEM)
			err = e;
		keep_err(&err, e);
	}
	free(l.st);
	*files = l.paths;
	*n_files = l.n;
	return err;
}

void sl_config_free_files(char **files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* Loading */

static void load_begin(struct ctx *c, struct sl_diag *diag)
{
	memset(c, 0, sizeof(*c));
	c->diag = diag;
	c->cfg = calloc(1, sizeof(*c->cfg));
}

static int load_end(struct ctx *c, int err, size_t errors_before, struct sl_config **out)
{
	sl_k8s_free(c->k8s);
	c->k8s = NULL;
	sl_hidx_free(&c->names);
	sl_hidx_free(&c->keys);
	if (err == -ENOMEM)
		sl_diag_add(c->diag, NULL, "error", "%s: out of memory",
			    c->file ? c->file : "<input>");
	if (!err && c->diag->n_errors > errors_before)
		err = -EINVAL;
	if (err) {
		sl_config_free(c->cfg);
		return err;
	}
	pr_debug("%s%s: %zu services, %zu workloads\n", c->cfg->files[0],
		 c->cfg->n_files > 1 ? " and the files after it" : "", c->cfg->n_services,
		 c->cfg->n_workloads);
	*out = c->cfg;
	return 0;
}

int sl_config_load_buf(const char *name, const char *buf, size_t len, struct sl_config **out,
		       struct sl_diag *diag)
{
	struct sl_diag local_diag;
	size_t errors_before;
	struct ctx c;
	int err;

	*out = NULL;
	/* The contract promises diagnostics; callers that do not want them pass NULL. */
	if (!diag) {
		sl_diag_init(&local_diag);
		diag = &local_diag;
	}
	errors_before = diag->n_errors;
	load_begin(&c, diag);
	err = c.cfg ? begin_file(&c, name ? name : "<input>") : -ENOMEM;
	if (!err)
		err = parse_stream(&c, buf, len);
	if (!err)
		err = build_k8s(&c);
	if (!err)
		err = sl_config_check_fit(c.cfg, diag);
	if (!err)
		finish(&c, c.file, errors_before);
	err = load_end(&c, err, errors_before, out);
	if (diag == &local_diag)
		sl_diag_free(&local_diag);
	return err;
}

int sl_config_load_paths_digest(const char *const paths[], size_t n, struct sl_config **out,
				struct sl_diag *diag, uint64_t *digest)
{
	return sl_config_load_sources(paths, n, NULL, 0, 0, out, diag, digest);
}

/* More than one file (or any buffer): a single file given alone is all or nothing. */
static bool isolated(const char *const paths[], size_t n, size_t n_bufs, unsigned int flags)
{
	struct stat st;

	if (!(flags & SL_LOAD_ISOLATE))
		return false;
	return n_bufs || n > 1 || (n == 1 && !stat(paths[0], &st) && S_ISDIR(st.st_mode));
}

int sl_config_load_sources(const char *const paths[], size_t n, const struct sl_config_buf *bufs,
			   size_t n_bufs, unsigned int flags, struct sl_config **out,
			   struct sl_diag *diag, uint64_t *digest)
{
	struct file_mark fm;
	uint64_t h = SL_FNV1A_INIT;
	struct sl_diag local_diag;
	char **files = NULL, *buf, *what = NULL;
	size_t n_files = 0, len, errors_before, i;
	unsigned char len_le[8];
	bool all_read = true;
	struct ctx c;
	int err = 0, e, j;

	*out = NULL;
	if (digest)
		*digest = 0;
	if (!diag) {
		sl_diag_init(&local_diag);
		diag = &local_diag;
	}
	errors_before = diag->n_errors;
	load_begin(&c, diag);
	if (!c.cfg) {
		err = -ENOMEM;
		goto out;
	}
	c.isolate = isolated(paths, n, n_bufs, flags);
	c.whole_docs = flags & SL_LOAD_WHOLE_DOCS;
	if (n) {
		err = sl_config_list_files(paths, n, &files, &n_files, diag);
		all_read = !err && n_files;
	}
	/*
	 * Every source with its length first: the same bytes split differently
	 * differ. A single file: the digest of its bytes alone, as `apply` of
	 * that file records it (sl_config_digest()).
	 */
	for (i = 0; i < n_files + n_bufs && err != -ENOMEM; i++) {
		const char *name;

		file_begin(&c, &fm);
		if (i < n_files) {
			name = files[i];
			e = sl_read_file(name, &buf, &len);
			if (e) {
				sl_diag_add(diag, &(struct sl_pos){.file = name}, "error",
					    "cannot read the file: %s", strerror(-e));
				all_read = false;
				/* Gone between listing and reading: an editor's rename. */
				if (e != -ENOMEM && c.isolate && !begin_file(&c, name))
					e = file_end(&c, &fm, c.file);
				keep_err(&err, e);
				continue;
			}
		} else {
			name = bufs[i - n_files].name;
			buf = (char *)bufs[i - n_files].data;
			len = bufs[i - n_files].len;
		}
		if (n_bufs || n_files > 1) {
			for (j = 0; j < 8; j++)
				len_le[j] = (unsigned char)((uint64_t)len >> (8 * j));
			h = sl_fnv1a(h, len_le, sizeof(len_le));
		}
		h = sl_fnv1a(h, buf, len);
		e = begin_file(&c, name);
		if (!e)
			e = parse_stream(&c, buf, len);
		if (!e)
			e = file_end(&c, &fm, c.file);
		if (i < n_files)
			free(buf);
		if (e)
			err = e;
	}
	if (err != -ENOMEM && (e = build_k8s(&c)))
		err = e;
	if (err != -ENOMEM && (e = sl_config_check_fit(c.cfg, diag)))
		err = e;
	if (err != -ENOMEM && !(flags & SL_LOAD_ALLOW_EMPTY)) {
		what = n ? sl_config_paths_str(paths, n) : NULL;
		finish(&c,
		       what	? what
		       : n	? paths[0]
		       : n_bufs ? bufs[0].name
				: "<input>",
		       errors_before);
	}
	if (digest && all_read)
		*digest = h;
out:
	if (!err && !c.cfg->n_files && begin_file(&c, "<none>"))
		err = -ENOMEM;
	err = load_end(&c, err, errors_before, out);
	sl_config_free_files(files, n_files);
	free(what);
	if (diag == &local_diag)
		sl_diag_free(&local_diag);
	return err;
}

int sl_config_load_paths(const char *const paths[], size_t n, struct sl_config **out,
			 struct sl_diag *diag)
{
	return sl_config_load_paths_digest(paths, n, out, diag, NULL);
}

int sl_config_load_file(const char *path, struct sl_config **out, struct sl_diag *diag)
{
	return sl_config_load_paths(&path, 1, out, diag);
}

char *sl_config_paths_str(const char *const paths[], size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(paths[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, paths[i]);
	}
	return s;
}
