/*
 * reload.c: the configuration read again on SIGHUP.
 */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clog.h"
#include "pipeline.h"

struct apply {
    struct connector *c;
    const struct conn_config *fresh;
    unsigned live, restart;
};

/* One key that changed: take it, or say it waits for a restart. Runs
 * with the lock held: readers on other threads copy under it. */
static void
on_change(void *arg, const char *key, const char *was, const char *now)
{
    struct apply *ap = arg;

    if (conn_config_live(key)) {
        conn_config_take(&ap->c->cfg, ap->fresh, key);
        ap->live++;
        cinfo("reload: %s %s -> %s, in effect now", key, was, now);
    } else {
        ap->restart++;
        cwarn("reload: %s changed (%s -> %s) but needs a restart: %s stays "
              "in effect until then",
              key, was, now, was);
    }
}

int
conn_reload(struct connector *c)
{
    struct conn_config *fresh = calloc(1, sizeof(*fresh));
    struct apply ap = {.c = c};
    char err[512];
    int level;

    if (fresh == NULL) {
        cerror("reload (SIGHUP): out of memory; the configuration in effect "
               "is kept");
        return -1;
    }
    conn_config_defaults(fresh, c->cfg.root);
    fresh->strict = c->cfg.strict;
    snprintf(fresh->properties_path, sizeof(fresh->properties_path), "%s",
             c->cfg.properties_path);
    snprintf(fresh->settings_path, sizeof(fresh->settings_path), "%s",
             c->cfg.settings_path);
    fresh->properties_required = c->cfg.properties_required;
    fresh->settings_required = c->cfg.settings_required;
    if (conn_config_load(fresh, err, sizeof(err)) != 0) {
        cerror("reload (SIGHUP) refused: %s; the configuration in effect is "
               "kept",
               err);
        free(fresh);
        return -1;
    }
    for (unsigned i = 0; i < fresh->warning_count; i++)
        cwarn("reload: %s", fresh->warnings[i]);
    ap.fresh = fresh;
    pthread_mutex_lock(&c->lock);
    conn_config_diff(&c->cfg, fresh, on_change, &ap);
    c->config_gen++;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    level = sse_log_level_parse(c->cfg.log_level);
    if (level >= 0)
        sse_log_set_level(level);
    sse_log_set_format(strcmp(c->cfg.log_format, "json") == 0 ? SSE_LOG_JSON
                                                              : SSE_LOG_TEXT);
    if (c->pipeline != NULL)
        pipeline_config_changed(c->pipeline);
    cinfo("reload (SIGHUP): %s and %s read again: %u changed keys in effect, "
          "%u waiting for a restart",
          c->cfg.properties_path, c->cfg.settings_path, ap.live, ap.restart);
    free(fresh);
    conn_wake(c);
    return 0;
}
