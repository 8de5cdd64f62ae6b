/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One YAML document into a yaml_document_t, as libyaml's yaml_parser_load()
 * builds it (the same nodes in the same order, with the same values,
 * styles, marks, items and pairs, the same errors), for the readers in
 * yaml_node.h, but cheaper: libyaml's loader copies a tag string for every
 * node and gives every list and mapping room for 16 entries, which for
 * 30,000 services is a million small allocations and most of a 240 MB peak.
 * Here items, pairs and scalar values live in a few large blocks sized to
 * fit, freed at once.
 *
 * What differs: nodes carry no tag (tag is NULL; no reader looks at tags),
 * and the document keeps no %YAML/%TAG directives. Free the document with
 * sl_yaml_doc_free(), never with yaml_document_delete().
 */
#ifndef SLUICE_YAML_LOAD_H
#define SLUICE_YAML_LOAD_H

#include <stdbool.h>

#include <yaml.h>

struct sl_yaml_block;

struct sl_yaml_doc {
	yaml_document_t doc;
	struct sl_yaml_block *blocks; /* items, pairs and scalar values */
};

/*
 * Services one at a time: composed whole, 30,000 services are 1.1 M nodes
 * (100 MB). With a stream, each item of a top-level 'services' list goes to
 * item() as soon as it is complete, and is then dropped: the document holds
 * one service at a time, and ends with that list empty. Only where reading
 * the items before the rest changes nothing: the top level is a mapping
 * whose keys are 'services' and 'workloads', each at most once, and no
 * anchor or alias appears. When the document turns out otherwise after
 * items went out (a later key, an alias, invalid YAML), the load stops
 * with abandoned set: the caller undoes what item() did and reads the
 * document again without a stream.
 */
struct sl_yaml_stream {
	/* 0, or an error that stops the load (in err) */
	int (*item)(void *arg, yaml_document_t *doc, const yaml_node_t *item, size_t idx);
	void *arg;
	size_t items; /* handed to item() */
	bool abandoned;
	int err;
};

/*
 * The next document of the parser's stream into d, like yaml_parser_load():
 * 1 on success (d->doc has no root node at the end of the stream), 0 on an
 * error, described in the parser (error, problem, marks) as libyaml's loader
 * describes it; d is empty then. Free d with sl_yaml_doc_free() either way.
 */
int sl_yaml_load(yaml_parser_t *parser, struct sl_yaml_doc *d);
/* The same with a stream (NULL: none); zero *s before. */
int sl_yaml_load_stream(yaml_parser_t *parser, struct sl_yaml_doc *d, struct sl_yaml_stream *s);

void sl_yaml_doc_free(struct sl_yaml_doc *d);

#endif /* SLUICE_YAML_LOAD_H */
