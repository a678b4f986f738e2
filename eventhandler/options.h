/*
 * options.h: sse-eventhandler's command line, declared as one table.
 */
#ifndef EH_OPTIONS_H
#define EH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EH_MAX_FILES 64
/* Sentinels for "--count not given" and "--seed not given". */
#define EH_COUNT_DEFAULT UINT64_MAX
#define EH_SEED_DEFAULT UINT64_MAX

struct eh_options {
    const char *root;
    const char *socket;     /* NULL: derived from root */
    const char *state_file; /* NULL: derived from root */
    const char *report;
    const char *fixtures;
    const char *files[EH_MAX_FILES];
    size_t n_files;
    bool generate;
    bool hold;
    bool skip_bad;
    bool help;
    uint64_t count;
    double rate;
    uint64_t size;
    uint64_t linger_ms;
    uint64_t wait_peer_ms; /* 0: do not wait */
    uint64_t sndhwm;
    uint64_t gap_every; /* leave out every n-th seq; 0: none */
    uint64_t seed;      /* EH_SEED_DEFAULT: the epoch */
    uint8_t types[8];   /* in the order given, no repeats */
    size_t n_types;
    int log_level;
    int log_json;
};

/* Parse argv into o (defaults first). 0, or -1 with a message in err. */
int eh_options_parse(struct eh_options *o, int argc, char **argv, char *err,
                     size_t errlen);
void eh_options_usage(FILE *out, const char *prog);

#endif
