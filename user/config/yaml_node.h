/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Walking a libyaml document: the accessors both readers (our own format in
 * ours_*.c, Kubernetes objects in k8s_*.c) and the loader use. Diagnostics
 * stay with each reader; these only look.
 */
#ifndef SLUICE_YAML_NODE_H
#define SLUICE_YAML_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <yaml.h>

/* The text of a scalar node; NULL for anything else or no node. */
static inline const char *sl_yaml_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* What a node is, for messages: "a string", "a list", "a mapping", "nothing". */
static inline const char *sl_yaml_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return n->data.scalar.length ? "a string" : "nothing";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* The name of a node type, for "must be ..." messages. */
static inline const char *sl_yaml_kind_name(yaml_node_type_t type)
{
	return type == YAML_SCALAR_NODE	    ? "a string"
	       : type == YAML_SEQUENCE_NODE ? "a list"
					    : "a mapping";
}

/* Is n of this type (a scalar: a non-empty one)? */
static inline bool sl_yaml_is(const yaml_node_t *n, yaml_node_type_t type)
{
	return n->type == type && (type != YAML_SCALAR_NODE || n->data.scalar.length);
}

static inline size_t sl_yaml_seq_len(const yaml_node_t *n)
{
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

static inline size_t sl_yaml_map_len(const yaml_node_t *n)
{
	return n->data.mapping.pairs.top - n->data.mapping.pairs.start;
}

static inline yaml_node_t *sl_yaml_seq_item(yaml_document_t *doc, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(doc, n->data.sequence.items.start[i]);
}

static inline yaml_node_t *sl_yaml_map_key(yaml_document_t *doc, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(doc, n->data.mapping.pairs.start[i].key);
}

static inline yaml_node_t *sl_yaml_map_value(yaml_document_t *doc, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(doc, n->data.mapping.pairs.start[i].value);
}

/* The value of the first key `key` in mapping n; NULL if absent or n is no mapping. */
static inline yaml_node_t *sl_yaml_get(yaml_document_t *doc, const yaml_node_t *n, const char *key)
{
	size_t i;

	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (i = 0; i < sl_yaml_map_len(n); i++) {
		const char *k = sl_yaml_scalar(sl_yaml_map_key(doc, n, i));

		if (k && !strcmp(k, key))
			return sl_yaml_map_value(doc, n, i);
	}
	return NULL;
}

/* Digits only: YAML would read 0x50, 1e3 or 080 in ways nobody means here. */
static inline bool sl_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

#endif /* SLUICE_YAML_NODE_H */
