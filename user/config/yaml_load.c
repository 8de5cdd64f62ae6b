// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libyaml events -> one yaml_document_t (yaml_load.h). libyaml's own loader
 * composes the same tree; this one allocates far less (see the header), and
 * apply of a big config spends its time in the parse, not in malloc.
 *
 * The tree is built as libyaml 0.2.5 builds it: a node is appended to the
 * document when its first event arrives and attached to the innermost open
 * list or mapping at once (so nodes are numbered in document order), an
 * anchor names the node it is on, an alias attaches that node again. The
 * children of every open list and mapping wait on one shared stack (nesting
 * is last in, first out) and are copied out, sized to fit, when it ends.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_load.h"

struct sl_yaml_block {
	struct sl_yaml_block *next;
	size_t used, size;
	unsigned char data[];
};

#define BLOCK_FIRST 4096
#define BLOCK_MAX   (1u << 20)

struct open_node {
	int node;    /* 1-based, as libyaml numbers nodes */
	size_t base; /* where its children start on the kids stack */
};

struct anchor {
	yaml_char_t *name;
	int node;
	yaml_mark_t mark;
};

struct loader {
	yaml_parser_t *p;
	struct sl_yaml_doc *d;
	size_t next_block;
	int *kids;
	size_t n_kids, kids_cap;
	struct open_node *open;
	size_t n_open, open_cap;
	struct anchor *anchors;
	size_t n_anchors, anchors_cap;
	/* streaming (yaml_load.h) */
	struct sl_yaml_stream *s;
	bool off;		    /* not this document */
	bool services_next;	    /* the next top-level value is the first 'services' */
	bool seq_next;		    /* ... and it is a list: stream it */
	unsigned int root_keys;	    /* ROOT_* seen */
	int seq;		    /* the list being streamed (0: none) */
	struct sl_yaml_block *mark; /* the blocks between items: this one... */
	size_t mark_used;	    /* ...filled this far */
};

#define ROOT_SERVICES  1u
#define ROOT_WORKLOADS 2u

/* What an empty list or mapping points at: a valid address, never written. */
static int no_items[2];

static int memory_error(struct loader *l)
{
	l->p->error = YAML_MEMORY_ERROR;
	return 0;
}

static int composer_error(struct loader *l, const char *context, yaml_mark_t context_mark,
			  const char *problem, yaml_mark_t problem_mark)
{
	l->p->error = YAML_COMPOSER_ERROR;
	if (context) {
		l->p->context = context;
		l->p->context_mark = context_mark;
	}
	l->p->problem = problem;
	l->p->problem_mark = problem_mark;
	return 0;
}

/* Room for one more element in a growing array; false when out of memory. */
static bool reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t want = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return true;
	if (want > SIZE_MAX / elem)
		return false;
	p = realloc(*arr, want * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = want;
	return true;
}

static void *block_alloc(struct loader *l, size_t len)
{
	struct sl_yaml_block *b = l->d->blocks;
	size_t size;
	void *p;

	len = (len + 7) & ~(size_t)7;
	if (!b || b->size - b->used < len) {
		size = len > l->next_block ? len : l->next_block;
		if (l->next_block < BLOCK_MAX)
			l->next_block *= 2;
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = l->d->blocks;
		l->d->blocks = b;
	}
	p = b->data + b->used;
	b->used += len;
	return p;
}

/* Append a node to the document: its 1-based index, 0 when out of memory. */
static int add_node(struct loader *l, const yaml_node_t *node)
{
	yaml_document_t *doc = &l->d->doc;
	size_t n = doc->nodes.top - doc->nodes.start, cap = doc->nodes.end - doc->nodes.start;
	yaml_node_t *nodes = doc->nodes.start;

	if (n >= INT_MAX - 1 || !reserve((void **)&nodes, &cap, n, sizeof(*nodes)))
		return memory_error(l);
	doc->nodes.start = nodes;
	doc->nodes.top = nodes + n;
	doc->nodes.end = nodes + cap;
	*doc->nodes.top++ = *node;
	return (int)(n + 1);
}

static yaml_node_t *node_at(struct loader *l, int index)
{
	return &l->d->doc.nodes.start[index - 1];
}

/* The node becomes the next child of the innermost open list or mapping. */
static int attach(struct loader *l, int index)
{
	if (!l->n_open)
		return 1; /* the root */
	if (l->n_kids - l->open[l->n_open - 1].base >= INT_MAX - 1 ||
	    !reserve((void **)&l->kids, &l->kids_cap, l->n_kids, sizeof(*l->kids)))
		return memory_error(l);
	l->kids[l->n_kids++] = index;
	return 1;
}

/* Takes the anchor (freed with the loader). */
static int name_node(struct loader *l, int index, yaml_char_t *anchor)
{
	yaml_mark_t mark = node_at(l, index)->start_mark;
	size_t i;

	if (!anchor)
		return 1;
	for (i = 0; i < l->n_anchors; i++)
		if (!strcmp((char *)l->anchors[i].name, (char *)anchor)) {
			free(anchor);
			return composer_error(l, "found duplicate anchor; first occurrence",
					      l->anchors[i].mark, "second occurrence", mark);
		}
	if (!reserve((void **)&l->anchors, &l->anchors_cap, l->n_anchors, sizeof(*l->anchors))) {
		free(anchor);
		return memory_error(l);
	}
	l->anchors[l->n_anchors++] = (struct anchor){.name = anchor, .node = index, .mark = mark};
	return 1;
}

static int load_alias(struct loader *l, const yaml_event_t *ev)
{
	size_t i;

	for (i = 0; i < l->n_anchors; i++)
		if (!strcmp((char *)l->anchors[i].name, (char *)ev->data.alias.anchor))
			return attach(l, l->anchors[i].node);
	return composer_error(l, NULL, ev->start_mark, "found undefined alias", ev->start_mark);
}

static int load_scalar(struct loader *l, yaml_event_t *ev)
{
	yaml_node_t node = {
	    .type = YAML_SCALAR_NODE,
	    .data.scalar.length = ev->data.scalar.length,
	    .data.scalar.style = ev->data.scalar.style,
	    .start_mark = ev->start_mark,
	    .end_mark = ev->end_mark,
	};
	yaml_char_t *anchor = ev->data.scalar.anchor;
	int index;

	node.data.scalar.value = block_alloc(l, ev->data.scalar.length + 1);
	if (!node.data.scalar.value)
		return memory_error(l);
	memcpy(node.data.scalar.value, ev->data.scalar.value, ev->data.scalar.length + 1);
	index = add_node(l, &node);
	if (!index)
		return 0;
	ev->data.scalar.anchor = NULL;
	return name_node(l, index, anchor) && attach(l, index);
}

static int load_start(struct loader *l, yaml_event_t *ev)
{
	yaml_node_t node = {.start_mark = ev->start_mark, .end_mark = ev->end_mark};
	yaml_char_t *anchor;
	int index;

	if (ev->type == YAML_SEQUENCE_START_EVENT) {
		node.type = YAML_SEQUENCE_NODE;
		node.data.sequence.style = ev->data.sequence_start.style;
		anchor = ev->data.sequence_start.anchor;
		ev->data.sequence_start.anchor = NULL;
	} else {
		node.type = YAML_MAPPING_NODE;
		node.data.mapping.style = ev->data.mapping_start.style;
		anchor = ev->data.mapping_start.anchor;
		ev->data.mapping_start.anchor = NULL;
	}
	index = add_node(l, &node);
	if (!index) {
		free(anchor);
		return 0;
	}
	if (!name_node(l, index, anchor) || !attach(l, index))
		return 0;
	if (!reserve((void **)&l->open, &l->open_cap, l->n_open, sizeof(*l->open)))
		return memory_error(l);
	l->open[l->n_open++] = (struct open_node){.node = index, .base = l->n_kids};
	return 1;
}

/* The list or mapping ends: its children, sized to fit, into the node. */
static int load_end(struct loader *l, const yaml_event_t *ev)
{
	struct open_node o = l->open[--l->n_open];
	size_t n = l->n_kids - o.base, len = n;
	yaml_node_t *node = node_at(l, o.node);
	int *kids = no_items;

	/* a mapping's children are key, value, key, value... (a lone key gets 0) */
	if (node->type == YAML_MAPPING_NODE)
		len = (n + 1) & ~(size_t)1;
	if (len) {
		kids = block_alloc(l, len * sizeof(*kids));
		if (!kids)
			return memory_error(l);
		memcpy(kids, l->kids + o.base, n * sizeof(*kids));
		if (len > n)
			kids[n] = 0;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		node->data.sequence.items.start = kids;
		node->data.sequence.items.top = node->data.sequence.items.end = kids + len;
	} else {
		yaml_node_pair_t *pairs = (yaml_node_pair_t *)kids;

		node->data.mapping.pairs.start = pairs;
		node->data.mapping.pairs.top = node->data.mapping.pairs.end = pairs + len / 2;
	}
	node->end_mark = ev->end_mark;
	l->n_kids = o.base;
	return 1;
}

/* May the document still be streamed, with ev next? */
static bool stream_ok(struct loader *l, const yaml_event_t *ev)
{
	const char *k;

	if (ev->type == YAML_ALIAS_EVENT ||
	    (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
	    (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor) ||
	    (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor))
		return false;
	if (!l->n_open) /* the top level */
		return ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_DOCUMENT_END_EVENT;
	if (l->n_open != 1 || ev->type == YAML_MAPPING_END_EVENT)
		return true;
	if ((l->n_kids - l->open[0].base) % 2) { /* a top-level value */
		l->seq_next = l->services_next && ev->type == YAML_SEQUENCE_START_EVENT;
		l->services_next = false;
		return true;
	}
	if (ev->type != YAML_SCALAR_EVENT) /* a top-level key */
		return false;
	k = (const char *)ev->data.scalar.value;
	if (!strcmp(k, "services") && !(l->root_keys & ROOT_SERVICES)) {
		l->root_keys |= ROOT_SERVICES;
		l->services_next = true;
		return true;
	}
	if (!strcmp(k, "workloads") && !(l->root_keys & ROOT_WORKLOADS)) {
		l->root_keys |= ROOT_WORKLOADS;
		return true;
	}
	return false;
}

/* Forget the blocks filled since the mark; the first one after it stays, empty. */
static void blocks_rollback(struct loader *l)
{
	struct sl_yaml_block *b = l->d->blocks, *next, *keep = NULL;

	for (; b != l->mark; b = next) {
		next = b->next;
		if (next == l->mark)
			keep = b;
		else
			free(b);
	}
	if (keep) {
		keep->used = 0;
		l->d->blocks = keep;
		l->mark = keep;
		l->mark_used = 0;
	} else {
		l->d->blocks = l->mark;
		if (l->mark)
			l->mark->used = l->mark_used;
	}
}

/* The item on top of the streamed list is complete: hand it out, drop it. */
static int stream_item(struct loader *l)
{
	int index = l->kids[l->n_kids - 1], err;
	yaml_document_t *doc = &l->d->doc;

	err = l->s->item(l->s->arg, doc, node_at(l, index), l->s->items);
	if (err) {
		l->s->err = err;
		return 0;
	}
	l->s->items++;
	l->n_kids--;
	doc->nodes.top = doc->nodes.start + index - 1;
	blocks_rollback(l);
	return 1;
}

static int load_event(struct loader *l, yaml_event_t *ev);

static int stream_event(struct loader *l, yaml_event_t *ev)
{
	if (!l->off && !stream_ok(l, ev)) {
		if (l->s->items) {
			l->s->abandoned = true;
			return 0;
		}
		l->off = true;
		l->seq = 0;
	}
	if (!load_event(l, ev))
		return 0;
	if (l->seq_next && l->n_open == 2) {
		l->seq_next = false;
		l->seq = l->open[1].node;
		l->mark = l->d->blocks;
		l->mark_used = l->mark ? l->mark->used : 0;
		return 1;
	}
	if (!l->seq)
		return 1;
	if (l->n_open == 1) { /* the list ended */
		l->seq = 0;
		return 1;
	}
	if (l->n_open == 2 && l->n_kids > l->open[1].base &&
	    (ev->type == YAML_SCALAR_EVENT || ev->type == YAML_SEQUENCE_END_EVENT ||
	     ev->type == YAML_MAPPING_END_EVENT))
		return stream_item(l);
	return 1;
}

static int load_event(struct loader *l, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return load_alias(l, ev);
	case YAML_SCALAR_EVENT:
		return load_scalar(l, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return load_start(l, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (!l->n_open)
			break;
		return load_end(l, ev);
	case YAML_DOCUMENT_END_EVENT:
		l->d->doc.end_implicit = ev->data.document_end.implicit;
		l->d->doc.end_mark = ev->end_mark;
		return 1;
	default:
		break;
	}
	/* libyaml's parser never sends these inside a document */
	return composer_error(l, NULL, ev->start_mark, "unexpected event in a document",
			      ev->start_mark);
}

static void loader_free(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->n_anchors; i++)
		free(l->anchors[i].name);
	free(l->anchors);
	free(l->open);
	free(l->kids);
}

int sl_yaml_load(yaml_parser_t *parser, struct sl_yaml_doc *d)
{
	return sl_yaml_load_stream(parser, d, NULL);
}

int sl_yaml_load_stream(yaml_parser_t *parser, struct sl_yaml_doc *d, struct sl_yaml_stream *s)
{
	struct loader l = {.p = parser, .d = d, .next_block = BLOCK_FIRST, .s = s};
	yaml_event_type_t type;
	yaml_event_t ev;
	int ok;

	memset(d, 0, sizeof(*d));
	if (!parser->stream_start_produced) {
		if (!yaml_parser_parse(parser, &ev))
			return 0;
		yaml_event_delete(&ev); /* STREAM-START */
	}
	if (parser->stream_end_produced)
		return 1;
	if (!yaml_parser_parse(parser, &ev))
		return 0;
	if (ev.type != YAML_DOCUMENT_START_EVENT) { /* STREAM-END: no document */
		yaml_event_delete(&ev);
		return 1;
	}
	d->doc.start_implicit = ev.data.document_start.implicit;
	d->doc.start_mark = ev.start_mark;
	yaml_event_delete(&ev);
	do {
		if (!yaml_parser_parse(parser, &ev)) {
			ok = 0;
			break;
		}
		ok = s ? stream_event(&l, &ev) : load_event(&l, &ev);
		type = ev.type;
		yaml_event_delete(&ev);
	} while (ok && type != YAML_DOCUMENT_END_EVENT);
	loader_free(&l);
	if (!ok)
		sl_yaml_doc_free(d);
	/* items went out of a document that did not load: read it again whole */
	if (!ok && s && s->items && !s->err)
		s->abandoned = true;
	return ok;
}

void sl_yaml_doc_free(struct sl_yaml_doc *d)
{
	struct sl_yaml_block *b, *next;

	for (b = d->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(d->doc.nodes.start);
	memset(d, 0, sizeof(*d));
}
