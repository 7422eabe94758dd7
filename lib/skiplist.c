/*
 * skiplist.c - the skip list's operations that relink or free many
 * nodes (skiplist.h).
 */
#include "skiplist.h"

void
dyn_skiplist_link(struct dyn_skiplist *list, struct dyn_skiplist_node ***prev,
                  struct dyn_skiplist_node *n)
{
    struct dyn_skiplist_node **links;
    unsigned l;

    for (l = 0; l < n->height; l++) {
        links = l < list->height ? prev[l] : list->head;
        n->next[l] = links[l];
        links[l] = n;
    }
    if (n->height > list->height)
        list->height = n->height;
    list->nodes++;
    list->version++;
}

void
dyn_skiplist_unlink(struct dyn_skiplist *list, struct dyn_skiplist_node ***prev,
                    struct dyn_skiplist_node *n)
{
    unsigned l;

    for (l = 0; l < n->height; l++)
        prev[l][l] = n->next[l];
    while (list->height > 0 && list->head[list->height - 1] == NULL)
        list->height--;
    list->nodes--;
    list->version++;
}

void
dyn_skiplist_clear(struct dyn_skiplist *list, dyn_skiplist_free_cb free_value)
{
    struct dyn_skiplist_node *n, *next;

    for (n = list->head[0]; n != NULL; n = next) {
        next = n->next[0];
        if (free_value != NULL)
            free_value(n->value);
        dyn_skiplist_node_free(n);
    }
    dyn_skiplist_reset(list);
}
