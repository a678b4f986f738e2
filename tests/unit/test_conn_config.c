/*
 * test_conn_config.c: connector.properties and the settings file, read
 * through their key tables; durations; paths under the root.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"

/* Each test runs in a directory of its own, removed when it ends. */
static char dir[PATH_MAX];

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
remove_dir(void)
{
    if (dir[0] != '\0')
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sselab-cfg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* A failed assertion ends the test process without the teardown. */
    atexit(remove_dir);
}

static void
teardown(void)
{
    remove_dir();
}

/* Write text to <dir>/<name> (making parents) and return its path. */
static const char *
put_file(const char *name, const char *text)
{
    static char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void
defaults_here(struct conn_config *cfg)
{
    conn_config_defaults(cfg, dir);
}

START_TEST(properties_real_keys_read)
{
    struct conn_config cfg;
    char err[512] = "";
    const char *p =
        put_file("connector.properties",
                 "# the real keys\n"
                 "! a Java-properties comment\n"
                 "\n"
                 "registration_interval = 60\n"
                 "connector_port:9090\n"
                 "  connector_fqdn=ftd01.example.com  \n"
                 "region_discovery_endpoint=https://api.eu.sse.itd.cisco.com/"
                 "providers/sse/api/v1/regions\n"
                 "sudi_registration_fqdn = sudi.example.com\n"
                 "sign_type \\\n"
                 "    = SUDI\n");

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load_properties(&cfg, p, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.registration_interval, 60);
    ck_assert_int_eq(cfg.connector_port, 9090);
    ck_assert_str_eq(cfg.connector_fqdn, "ftd01.example.com");
    ck_assert_str_eq(cfg.region_discovery_endpoint,
                     "https://api.eu.sse.itd.cisco.com/providers/sse/api/v1/"
                     "regions");
    ck_assert_str_eq(cfg.sudi_registration_fqdn, "sudi.example.com");
    ck_assert_str_eq(cfg.sign_type, "SUDI");
    ck_assert_uint_eq(cfg.warning_count, 0);
    ck_assert(cfg.properties_found);
    ck_assert_int_eq(conn_config_source_of(&cfg, "connector_port"),
                     CONN_SRC_PROPERTIES);
    ck_assert_int_eq(conn_config_source_of(&cfg, "registration_interval"),
                     CONN_SRC_PROPERTIES);
    ck_assert_uint_eq(cfg.source_line[0], 4);
}
END_TEST

START_TEST(properties_unknown_key_warns_not_fails)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    const char *p =
        put_file("connector.properties", "registration_intervall=60\n"
                                         "connector_port=9000\n");

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load_properties(&cfg, p, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.connector_port, 9000);
    ck_assert_uint_eq(cfg.registration_interval, 180);
    ck_assert_uint_eq(cfg.warning_count, 1);
    snprintf(want, sizeof(want),
             "%s:1: unknown key \"registration_intervall\" ignored", p);
    ck_assert_msg(strncmp(cfg.warnings[0], want, strlen(want)) == 0,
                  "warning: %s", cfg.warnings[0]);
    ck_assert_ptr_nonnull(strstr(cfg.warnings[0], "registration_interval,"));
}
END_TEST

START_TEST(properties_unknown_key_fails_when_strict)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    const char *p =
        put_file("connector.properties", "connector_port=9000\n"
                                         "registraton_interval=60\n");

    defaults_here(&cfg);
    cfg.strict = true;
    ck_assert_int_eq(conn_config_load_properties(&cfg, p, err, sizeof(err)),
                     -1);
    snprintf(want, sizeof(want),
             "%s:2: unknown key \"registraton_interval\" (expected one of: "
             "registration_interval, connector_port,",
             p);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error: %s", err);
    ck_assert_uint_eq(cfg.warning_count, 0);
}
END_TEST

START_TEST(properties_binary_junk_is_refused_at_its_line)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    const char *p =
        put_file("connector.properties", "connector_port=9000\r\n"
                                         "\xfe\x12\x9b garbage\x1b[2J=1\n");

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load_properties(&cfg, p, err, sizeof(err)),
                     -1);
    snprintf(want, sizeof(want),
             "%s:2: not a text line: control byte 0x12 at column 2", p);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error: %s", err);
    /* Nothing of the junk became a warning (or reached a terminal). */
    ck_assert_uint_eq(cfg.warning_count, 0);
}
END_TEST

START_TEST(properties_bad_value_names_file_line_key)
{
    static const struct {
        const char *text, *tail;
    } cases[] = {
        {"# first\n\nregistration_interval=abc\n",
         "3: registration_interval: expected an integer from 1 to 86400, "
         "got \"abc\""},
        {"registration_interval=0\n",
         "1: registration_interval: expected an integer from 1 to 86400, "
         "got \"0\""},
        {"connector_port=8989\nconnector_port=65536\n",
         "2: connector_port: expected an integer from 0 to 65535, got "
         "\"65536\""},
        {"connector_port= 12x\n",
         "1: connector_port: expected an integer from 0 to 65535, got "
         "\"12x\""},
        {"region_discovery_endpoint=http://api-sse.cisco.com/x\n",
         "1: region_discovery_endpoint: expected an https:// URL of at most "
         "255 bytes, got \"http://api-sse.cisco.com/x\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conn_config cfg;
        char err[512] = "", want[PATH_MAX + 256];
        const char *p = put_file("connector.properties", cases[i].text);

        defaults_here(&cfg);
        ck_assert_int_eq(conn_config_load_properties(&cfg, p, err, sizeof(err)),
                         -1);
        snprintf(want, sizeof(want), "%s:%s", p, cases[i].tail);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

static const char every_section[] =
    "# every key of every section\n"
    "Globals:\n"
    "  server_port: 9443\n"
    "  data_dir: /data\n"
    "  cert_store: /certs\n"
    "  interface: all\n"
    "  ca_file: /ca.pem\n"
    "  host_map: /run/hosts.map\n"
    "  time_scale: 60\n"
    "  Log:\n"
    "    log_type: stderr\n"
    "    log_file_path: /log/c.log\n"
    "    log_level: debug\n"
    "    log_format: json\n"
    "  Contexts:\n"
    "    Events:\n"
    "      events_uri: ipc:///run/eh.sock\n"
    "      sink_backoff_max: 2m\n"
    "      source_zeromq_backoff_max: 1m30s\n"
    "      sink_validate_ssl: false\n"
    "      batch_max_events: 100\n"
    "      batch_max_bytes: 65536\n"
    "      batch_linger: 5ms\n"
    "      queue_max_bytes: 1048576\n"
    "      ack_timeout: 1.5s\n"
    "      connect_timeout: 2s\n"
    "Administration: {enabled: false}\n"
    "Messaging:\n"
    "  enabled: false\n"
    "HTTPProxy: {enabled: true, url: \"http://proxy:3128\"}\n";

START_TEST(settings_every_section_read)
{
    struct conn_config cfg;
    char err[512] = "";
    const char *p = put_file("connector.yaml", every_section);

    conn_config_defaults(&cfg, "/");
    ck_assert_msg(conn_config_load_settings(&cfg, p, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(cfg.server_port, 9443);
    ck_assert_int_eq(conn_config_api_port(&cfg), 9443);
    ck_assert_str_eq(cfg.data_dir, "/data");
    ck_assert_str_eq(cfg.cert_store, "/certs");
    ck_assert_str_eq(cfg.interface, "all");
    ck_assert_str_eq(cfg.ca_file, "/ca.pem");
    ck_assert_str_eq(cfg.host_map, "/run/hosts.map");
    ck_assert_double_eq(cfg.time_scale, 60);
    ck_assert_str_eq(cfg.log_type, "stderr");
    ck_assert_str_eq(cfg.log_file_path, "/log/c.log");
    ck_assert_str_eq(cfg.log_level, "debug");
    ck_assert_str_eq(cfg.log_format, "json");
    ck_assert_str_eq(cfg.events_uri, "ipc:///run/eh.sock");
    ck_assert_uint_eq(cfg.sink_backoff_max_ms, 120000);
    ck_assert_uint_eq(cfg.source_zeromq_backoff_max_ms, 90000);
    ck_assert(!cfg.sink_validate_ssl);
    ck_assert_uint_eq(cfg.batch_max_events, 100);
    ck_assert_uint_eq(cfg.batch_max_bytes, 65536);
    ck_assert_uint_eq(cfg.batch_linger_ms, 5);
    ck_assert_uint_eq(cfg.queue_max_bytes, 1048576);
    ck_assert_uint_eq(cfg.ack_timeout_ms, 1500);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 2000);
    ck_assert(!cfg.administration_enabled);
    ck_assert(!cfg.messaging_enabled);
    ck_assert(cfg.http_proxy_enabled);
    ck_assert_str_eq(cfg.http_proxy_url, "http://proxy:3128");
    ck_assert_int_eq(conn_config_source_of(&cfg, "Globals.Log.log_level"),
                     CONN_SRC_SETTINGS);
    ck_assert_int_eq(conn_config_source_of(&cfg, "HTTPProxy.url"),
                     CONN_SRC_SETTINGS);
    ck_assert_int_eq(conn_config_source_of(&cfg, "Globals.nope"), -1);
    ck_assert(cfg.settings_found);
}
END_TEST

START_TEST(settings_misspelt_key_names_file_line_column)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 256];
    const char *p = put_file("connector.yaml", "Globals:\n"
                                               "  Log:\n"
                                               "    log_level: info\n"
                                               "    log_levl: debug\n");

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:4:5: unknown key \"Globals.Log.log_levl\" (expected one "
             "of: log_type, log_file_path, log_level, log_format)",
             p);
    ck_assert_str_eq(err, want);

    /* A misspelt section, and a misspelt top-level name. */
    p = put_file("connector.yaml", "Globals:\n  Contexts:\n    Event:\n"
                                   "      sink_validate_ssl: true\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:3:5: unknown key \"Globals.Contexts.Event\" (expected one "
             "of: Events)",
             p);
    ck_assert_str_eq(err, want);
    p = put_file("connector.yaml", "Global:\n  server_port: 1\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:1:1: unknown key \"Global\" (expected one of: Globals, "
             "Administration, Messaging, HTTPProxy)",
             p);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(settings_wrong_type_names_key_and_expected)
{
    static const struct {
        const char *text, *tail;
    } cases[] = {
        {"Globals:\n  Contexts:\n    Events:\n"
         "      sink_backoff_max: banana\n",
         "4:25: Globals.Contexts.Events.sink_backoff_max: expected a Go "
         "duration such as \"1m\" or \"30s\", got \"banana\""},
        {"Globals:\n  Contexts:\n    Events:\n"
         "      sink_backoff_max: 2h\n",
         "4:25: Globals.Contexts.Events.sink_backoff_max: expected a Go "
         "duration from 100ms to 1h, got \"2h\""},
        {"Globals:\n  server_port: http\n",
         "2:16: Globals.server_port: expected an integer from 0 to 65535, "
         "got \"http\""},
        {"Messaging: {enabled: maybe}\n",
         "1:22: Messaging.enabled: expected true or false, got \"maybe\""},
        {"Globals:\n  Log:\n    log_format: xml\n",
         "3:17: Globals.Log.log_format: expected one of: text, json, got "
         "\"xml\""},
        {"Globals:\n  time_scale: 0.5\n",
         "2:15: Globals.time_scale: expected a number from 1 to 100000, got "
         "\"0.5\""},
        {"Globals:\n  data_dir: \"\"\n",
         "2:13: Globals.data_dir: expected a non-empty path of at most 4095 "
         "bytes, got \"\""},
        {"Globals:\n  Log: file\n",
         "2:8: Globals.Log: expected a mapping (a section), got \"file\""},
        {"Globals:\n  server_port:\n    port: 1\n",
         "3:5: Globals.server_port: expected a value, got a mapping"},
        {"Globals:\n  server_port: 1\n  server_port: 2\n",
         "3:3: Globals.server_port: set twice (first on line 2)"},
        {"Globals:\n  Contexts:\n    Events:\n"
         "      batch_max_bytes: 1048576\n"
         "      queue_max_bytes: 65536\n",
         "5: Globals.Contexts.Events.queue_max_bytes (65536) is less than "
         "Globals.Contexts.Events.batch_max_bytes (1048576)"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conn_config cfg;
        char err[512] = "", want[PATH_MAX + 256];
        const char *p = put_file("connector.yaml", cases[i].text);

        defaults_here(&cfg);
        ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)),
                         -1);
        snprintf(want, sizeof(want), "%s:%s", p, cases[i].tail);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

START_TEST(settings_yaml_syntax_error_has_line_column)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    const char *p = put_file("connector.yaml", "Globals:\n"
                                               "  server_port: 1\n"
                                               "  data_dir: a: b\n");

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3:14: mapping values are not allowed", p);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

    /* An unclosed flow mapping: the error, and where the mapping began. */
    p = put_file("connector.yaml", "Globals:\n  Log: {log_level: info\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:3:1: did not find expected ',' or '}' (while parsing a "
             "flow mapping that began at line 2, column 8)",
             p);
    ck_assert_str_eq(err, want);

    /* Bad encoding: libyaml gives an offset, turned into line:column. */
    p = put_file("connector.yaml", "Globals:\n  server_port: 1\n"
                                   "  data_dir: ab\xff\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3:15: invalid leading UTF-8 octet", p);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(duration_parses_go_forms)
{
    static const struct {
        const char *text;
        unsigned ms;
    } cases[] = {
        {"1m", 60000},
        {"30s", 30000},
        {"1m30s", 90000},
        {"250ms", 250},
        {"1.5s", 1500},
        {"2h", 7200000},
        {"0", 0},
        {"0s", 0},
        {".5s", 500},
        {"1h2m3s4ms", 3723004},
        {"1.s", 1000},
        {"500us", 1},
        {"1500000ns", 2},
        {"2\xc2\xb5s", 1},
        {"+10s", 10000},
        {"0.25h", 900000},
        {"1193h", 4294800000u},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned ms = 12345;

        ck_assert_msg(conn_parse_duration_ms(cases[i].text, &ms) == 0, "%s",
                      cases[i].text);
        ck_assert_msg(ms == cases[i].ms, "%s: %u", cases[i].text, ms);
    }
}
END_TEST

START_TEST(duration_rejects_junk_and_negative)
{
    static const char *const bad[] = {
        "",
        "banana",
        "-1s",
        "-0s",
        "1",
        "1x",
        "s",
        "1 s",
        " 1s",
        "1s ",
        ".s",
        "1e3s",
        "1mm",
        "--1s",
        "1.2.3s",
        "1194h",
        "99999999999999999999h",
        "5000000000000000ms",
    };
    unsigned ms = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(conn_parse_duration_ms(bad[i], &ms) == -1, "%s", bad[i]);
    ck_assert_uint_eq(ms, 7);
    ck_assert_int_eq(conn_parse_duration_ms(NULL, &ms), -1);
}
END_TEST

START_TEST(duration_format_reads_back)
{
    static const struct {
        unsigned ms;
        const char *text;
    } cases[] = {
        {0, "0s"},       {250, "250ms"},          {1000, "1s"},
        {1500, "1.5s"},  {60000, "1m"},           {90000, "1m30s"},
        {3600000, "1h"}, {3723004, "1h2m3.004s"}, {3605000, "1h5s"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        unsigned back;

        conn_format_duration_ms(cases[i].ms, buf, sizeof(buf));
        ck_assert_str_eq(buf, cases[i].text);
        ck_assert_int_eq(conn_parse_duration_ms(buf, &back), 0);
        ck_assert_uint_eq(back, cases[i].ms);
    }
}
END_TEST

START_TEST(scaled_ms_divides_by_time_scale)
{
    struct conn_config cfg;

    conn_config_defaults(&cfg, "/");
    ck_assert_uint_eq(conn_scaled_ms(&cfg, 30000), 30000);
    cfg.time_scale = 60;
    ck_assert_uint_eq(conn_scaled_ms(&cfg, 60000), 1000);
    ck_assert_uint_eq(conn_scaled_ms(&cfg, 20), 1);
    ck_assert_uint_eq(conn_scaled_ms(&cfg, 0), 0);
}
END_TEST

START_TEST(paths_taken_under_root)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 128], root[PATH_MAX + 2];
    const char *p;

    /* A trailing slash names the same root. */
    snprintf(root, sizeof(root), "%s/", dir);
    conn_config_defaults(&cfg, root);
    ck_assert_str_eq(cfg.root, dir);
    snprintf(want, sizeof(want), "%s/ngfw/etc/sf/connector.properties", dir);
    ck_assert_str_eq(cfg.properties_path, want);
    snprintf(want, sizeof(want), "%s/ngfw/etc/sf/connector.yaml", dir);
    ck_assert_str_eq(cfg.settings_path, want);
    snprintf(want, sizeof(want), "%s/ngfw/var/sf/sse-connector", dir);
    ck_assert_str_eq(cfg.data_dir, want);
    snprintf(want, sizeof(want), "%s/ngfw/var/log/connector/connector.log",
             dir);
    ck_assert_str_eq(cfg.log_file_path, want);
    snprintf(want, sizeof(want),
             "ipc://%s/ngfw/var/sf/run/EventHandler_SSEConnector.sock", dir);
    ck_assert_str_eq(cfg.events_uri, want);

    p = put_file("connector.yaml", "Globals:\n"
                                   "  data_dir: /var/x\n"
                                   "  cert_store: relative/certs\n"
                                   "  Contexts:\n"
                                   "    Events:\n"
                                   "      events_uri: ipc:///run/e.sock\n");
    ck_assert_msg(conn_config_load_settings(&cfg, p, err, sizeof(err)) == 0,
                  "%s", err);
    snprintf(want, sizeof(want), "%s/var/x", dir);
    ck_assert_str_eq(cfg.data_dir, want);
    ck_assert_str_eq(cfg.cert_store, "relative/certs");
    snprintf(want, sizeof(want), "ipc://%s/run/e.sock", dir);
    ck_assert_str_eq(cfg.events_uri, want);

    /* Root "/" leaves paths as they are; tcp:// endpoints are not paths. */
    conn_config_defaults(&cfg, "/");
    ck_assert_str_eq(cfg.data_dir, "/ngfw/var/sf/sse-connector");
    ck_assert_str_eq(cfg.events_uri,
                     "ipc:///ngfw/var/sf/run/EventHandler_SSEConnector.sock");
    p = put_file("connector.yaml", "Globals:\n  Contexts:\n    Events:\n"
                                   "      events_uri: tcp://127.0.0.1:5555\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.events_uri, "tcp://127.0.0.1:5555");
}
END_TEST

START_TEST(server_port_overrides_connector_port)
{
    struct conn_config cfg;
    char err[512] = "";

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/connector.properties", "connector_port=9001\n");
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(conn_config_api_port(&cfg), 9001);
    ck_assert_int_eq(cfg.server_port, 9001);
    ck_assert_int_eq(conn_config_source_of(&cfg, "Globals.server_port"),
                     CONN_SRC_PROPERTIES);

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/connector.yaml", "Globals:\n  server_port: 9002\n");
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.connector_port, 9001);
    ck_assert_int_eq(conn_config_api_port(&cfg), 9002);
    ck_assert_int_eq(conn_config_source_of(&cfg, "Globals.server_port"),
                     CONN_SRC_SETTINGS);
}
END_TEST

START_TEST(missing_files_keep_defaults)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 128];

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), 0);
    ck_assert(!cfg.properties_found);
    ck_assert(!cfg.settings_found);
    ck_assert_uint_eq(cfg.registration_interval, 180);
    ck_assert_int_eq(cfg.connector_port, 8989);
    ck_assert_str_eq(cfg.connector_fqdn, "");
    ck_assert_str_eq(cfg.region_discovery_endpoint,
                     "https://api-sse.cisco.com/providers/sse/api/v1/regions");
    ck_assert_int_eq(cfg.server_port, 8989);
    ck_assert_str_eq(cfg.interface, "localhost");
    snprintf(want, sizeof(want), "%s/ngfw/etc/sf/connectorCA.pem", dir);
    ck_assert_str_eq(cfg.ca_file, want);
    snprintf(want, sizeof(want), "%s/ngfw/etc/sf/sse-hosts.map", dir);
    ck_assert_str_eq(cfg.host_map, want);
    snprintf(want, sizeof(want), "%s/ngfw/etc/sf/sse-connector/certs", dir);
    ck_assert_str_eq(cfg.cert_store, want);
    ck_assert_double_eq(cfg.time_scale, 1);
    ck_assert_str_eq(cfg.log_type, "file");
    ck_assert_str_eq(cfg.log_level, "info");
    ck_assert_str_eq(cfg.log_format, "text");
    ck_assert_uint_eq(cfg.sink_backoff_max_ms, 60000);
    ck_assert_uint_eq(cfg.source_zeromq_backoff_max_ms, 30000);
    ck_assert(cfg.sink_validate_ssl);
    ck_assert_uint_eq(cfg.batch_max_events, 256);
    ck_assert_uint_eq(cfg.batch_max_bytes, 32768);
    ck_assert_uint_eq(cfg.batch_linger_ms, 2);
    ck_assert_uint_eq(cfg.queue_max_bytes, 4194304);
    ck_assert_uint_eq(cfg.inflight_max_bytes, 131072);
    ck_assert_uint_eq(cfg.spool_max_bytes, 1073741824);
    ck_assert_uint_eq(cfg.ack_timeout_ms, 30000);
    ck_assert_uint_eq(cfg.connect_timeout_ms, 10000);
    ck_assert(cfg.administration_enabled);
    ck_assert(cfg.messaging_enabled);
    ck_assert(!cfg.http_proxy_enabled);
    ck_assert_str_eq(cfg.http_proxy_url, "");
    for (size_t i = 0; i < CONN_CONFIG_KEYS; i++)
        ck_assert_uint_eq(cfg.source[i], CONN_SRC_DEFAULT);
}
END_TEST

START_TEST(unreadable_file_is_an_error)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];

    defaults_here(&cfg);
    /* A directory where the file should be: it exists, it cannot be read
     * (chmod 000 would not stop root). */
    put_file("ngfw/etc/sf/placeholder", "");
    ck_assert_int_eq(mkdir(cfg.settings_path, 0755), 0);
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: cannot read: ", cfg.settings_path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(dump_names_every_key_and_source)
{
    struct conn_config cfg;
    char err[512] = "", out[16384];
    const char *p = put_file("out.txt", "");
    int fd;
    ssize_t n;

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/connector.properties",
             "registration_interval=60\nbogus=1\n");
    put_file("ngfw/etc/sf/connector.yaml",
             "Globals:\n  Log:\n    log_level: debug\n");
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), 0);
    fd = open(p, O_RDWR | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    conn_config_dump(&cfg, fd);
    n = pread(fd, out, sizeof(out) - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "registration_interval"));
    ck_assert_ptr_nonnull(strstr(out, "= 60 "));
    ck_assert_ptr_nonnull(strstr(out, "# properties line 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"debug\""));
    ck_assert_ptr_nonnull(strstr(out, "# settings line 3\n"));
    ck_assert_ptr_nonnull(strstr(out, "# default, as connector_port\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"1m\""));
    ck_assert_ptr_nonnull(strstr(out, "# warning: "));
    ck_assert_ptr_nonnull(strstr(out, "unknown key \"bogus\""));
    ck_assert_ptr_nonnull(strstr(out, "HTTPProxy.url"));
    ck_assert_ptr_nonnull(strstr(out, "Globals.Contexts.Events.ack_timeout"));
}
END_TEST

/* A proxy password in the settings never shows: not in an error about the
 * URL, not in --check's dump; and the URL is the decision. */
START_TEST(proxy_url_password_never_shown)
{
    struct conn_config cfg;
    char err[512] = "", out[16384];
    const char *p;
    int fd;
    ssize_t n;

    defaults_here(&cfg);
    p = put_file("bad.yaml",
                 "HTTPProxy:\n  enabled: true\n"
                 "  url: \"https://device:topsecret@proxy:3128\"\n");
    ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ":3:8: HTTPProxy.url: expected empty, or an "
                              "http://") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "topsecret") == NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "got \"https://***@proxy:3128\""));

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/connector.yaml",
             "HTTPProxy:\n  enabled: true\n"
             "  url: \"http://device:topsecret@127.0.0.1:3128\"\n");
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), 0);
    ck_assert(cfg.proxy.on);
    ck_assert_str_eq(cfg.proxy.user, "device");
    ck_assert_str_eq(cfg.proxy.password, "topsecret");
    fd = open(put_file("dump.txt", ""), O_RDWR | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    conn_config_dump(&cfg, fd);
    n = pread(fd, out, sizeof(out) - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
    ck_assert_msg(strstr(out, "topsecret") == NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"http://device:***@127.0.0.1:3128\""));
    ck_assert_ptr_nonnull(
        strstr(out, "# proxy: http://device:***@127.0.0.1:3128 "));
}
END_TEST

/* A file named on the command line must exist: the defaults never stand
 * in silently for a file someone asked for. */
START_TEST(explicit_files_missing_are_errors)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];

    defaults_here(&cfg);
    snprintf(cfg.settings_path, sizeof(cfg.settings_path), "%s/none.yaml", dir);
    cfg.settings_required = true;
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s/none.yaml: cannot read: No such file or directory (named "
             "by --settings)",
             dir);
    ck_assert_str_eq(err, want);

    defaults_here(&cfg);
    snprintf(cfg.properties_path, sizeof(cfg.properties_path),
             "%s/none.properties", dir);
    cfg.properties_required = true;
    ck_assert_int_eq(conn_config_load(&cfg, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "none.properties: cannot read: ") != NULL &&
                      strstr(err, "(named by --properties)") != NULL,
                  "%s", err);

    /* Present, they are read as ever. */
    defaults_here(&cfg);
    snprintf(cfg.settings_path, sizeof(cfg.settings_path), "%s",
             put_file("named.yaml", "Globals:\n  Log: {log_level: debug}\n"));
    cfg.settings_required = true;
    ck_assert_msg(conn_config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(cfg.log_level, "debug");
}
END_TEST

/* A self-signed certificate in PEM, for a trust store that is good. */
static void
write_cert(FILE *f)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    X509_free(x);
    EVP_PKEY_free(key);
}

START_TEST(ca_file_garbage_is_an_error_naming_file)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    FILE *f;

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/connectorCA.pem", "garbage\n");
    ck_assert_int_eq(conn_config_check_ca(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "Globals.ca_file: %s holds no PEM certificate",
             cfg.ca_file);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

    /* A block that does not decode is named by its place. */
    put_file("ngfw/etc/sf/connectorCA.pem", "");
    f = fopen(cfg.ca_file, "a");
    ck_assert_ptr_nonnull(f);
    write_cert(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
          "-----END CERTIFICATE-----\n",
          f);
    fclose(f);
    ck_assert_int_eq(conn_config_check_ca(&cfg, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ": certificate 2 cannot be read: ") != NULL, "%s",
                  err);

    /* Set in the settings file: the line that set it comes first. */
    snprintf(want, sizeof(want),
             "Globals:\n  ca_file: %s/ngfw/etc/sf/connectorCA.pem\n", "");
    put_file("ngfw/etc/sf/connector.yaml", want);
    ck_assert_msg(conn_config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(conn_config_check_ca(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: Globals.ca_file: ", cfg.settings_path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(ca_file_missing_warns_and_good_one_passes)
{
    struct conn_config cfg;
    char err[512] = "", want[PATH_MAX + 64];
    FILE *f;

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_check_ca(&cfg, err, sizeof(err)), 1);
    snprintf(want, sizeof(want),
             "Globals.ca_file: %s: missing: no connection to the cloud can be "
             "verified until it is there",
             cfg.ca_file);
    ck_assert_str_eq(err, want);

    put_file("ngfw/etc/sf/connectorCA.pem", "# the bundle\n");
    f = fopen(cfg.ca_file, "a");
    ck_assert_ptr_nonnull(f);
    write_cert(f);
    fputs("# and another\n", f);
    write_cert(f);
    fclose(f);
    ck_assert_msg(conn_config_check_ca(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, ": 2 certificates"));

    /* A directory is no trust store. */
    unlink(cfg.ca_file);
    ck_assert_int_eq(mkdir(cfg.ca_file, 0755), 0);
    ck_assert_int_eq(conn_config_check_ca(&cfg, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, cfg.ca_file) != NULL, "%s", err);
}
END_TEST

/* The extra-CA store: nothing said when absent at its default place, a
 * warning naming the line when the file names a store that is not there;
 * error lines mark it missing rather than claim trust in it. */
START_TEST(cert_store_missing_said_only_when_configured)
{
    struct conn_config cfg;
    char err[512] = "", msg[PATH_MAX + 256], want[PATH_MAX * 2 + 64];

    defaults_here(&cfg);
    ck_assert_int_eq(conn_config_check_cert_store(&cfg, msg, sizeof(msg)), 1);
    ck_assert_str_eq(msg, "");
    snprintf(want, sizeof(want), "%s and %s (missing)", cfg.ca_file,
             cfg.cert_store);
    ck_assert_str_eq(conn_config_trust(&cfg, msg, sizeof(msg)), want);

    put_file("ngfw/etc/sf/connector.yaml",
             "Globals:\n  cert_store: /etc/extra-cas\n");
    ck_assert_msg(conn_config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(conn_config_check_cert_store(&cfg, msg, sizeof(msg)), 2);
    snprintf(want, sizeof(want),
             "%s:2: Globals.cert_store: %s/etc/extra-cas: No such file or "
             "directory: no extra CAs are trusted until it exists",
             cfg.settings_path, dir);
    ck_assert_msg(strncmp(msg, want, strlen(want)) == 0, "%s", msg);

    put_file("etc/extra-cas", "a file, not a directory\n");
    ck_assert_int_eq(conn_config_check_cert_store(&cfg, msg, sizeof(msg)), 3);
    ck_assert_ptr_nonnull(strstr(msg, "is not a directory"));

    defaults_here(&cfg);
    put_file("ngfw/etc/sf/sse-connector/certs/placeholder", "");
    ck_assert_int_eq(conn_config_check_cert_store(&cfg, msg, sizeof(msg)), 0);
    snprintf(want, sizeof(want), "%s and %s", cfg.ca_file, cfg.cert_store);
    ck_assert_str_eq(conn_config_trust(&cfg, msg, sizeof(msg)), want);
}
END_TEST

/* Only http:// proxies: another scheme is refused by the key's name. */
START_TEST(proxy_url_other_scheme_names_the_key)
{
    static const char *const urls[] = {"ftp://proxy:21", "socks5://proxy:1080",
                                       "https://proxy:3128", "proxy:3128"};
    struct conn_config cfg;
    char err[512] = "", text[128];
    const char *p;

    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        defaults_here(&cfg);
        snprintf(text, sizeof(text), "HTTPProxy:\n  url: \"%s\"\n", urls[i]);
        p = put_file("proxy.yaml", text);
        ck_assert_int_eq(conn_config_load_settings(&cfg, p, err, sizeof(err)),
                         -1);
        ck_assert_msg(strstr(err, "proxy.yaml:2:8: HTTPProxy.url: expected "
                                  "empty, or an http://") != NULL,
                      "%s: %s", urls[i], err);
    }
}
END_TEST

/* The repository's top: this file is <top>/tests/unit/test_conn_config.c. */
static void
source_dir(char *buf, size_t len)
{
    const char *file = __FILE__;
    const char *mark = strstr(file, "tests/unit/test_conn_config.c");

    if (mark == NULL || mark == file)
        snprintf(buf, len, ".");
    else
        snprintf(buf, len, "%.*s", (int)(mark - file - 1), file);
}

struct changes {
    char keys[8][64];
    char was[8][64];
    char now[8][64];
    unsigned n;
};

static void
note_change(void *arg, const char *key, const char *was, const char *now)
{
    struct changes *ch = arg;

    if (ch->n < 8) {
        snprintf(ch->keys[ch->n], sizeof(ch->keys[0]), "%s", key);
        snprintf(ch->was[ch->n], sizeof(ch->was[0]), "%s", was);
        snprintf(ch->now[ch->n], sizeof(ch->now[0]), "%s", now);
    }
    ch->n++;
}

START_TEST(reload_diff_names_each_changed_key_with_both_values)
{
    static struct conn_config a, b;
    struct changes ch = {0};
    char err[512] = "";

    defaults_here(&a);
    defaults_here(&b);
    ck_assert_uint_eq(conn_config_diff(&a, &b, note_change, &ch), 0);
    snprintf(b.settings_path, sizeof(b.settings_path), "%s",
             put_file("connector.yaml",
                      "Globals:\n  Log: {log_level: debug}\n"
                      "  Contexts:\n    Events: {ack_timeout: 5s}\n"));
    snprintf(b.properties_path, sizeof(b.properties_path), "%s",
             put_file("connector.properties", "registration_interval=60\n"));
    ck_assert_int_eq(conn_config_load(&b, err, sizeof(err)), 0);
    ck_assert_uint_eq(conn_config_diff(&a, &b, note_change, &ch), 3);
    ck_assert_str_eq(ch.keys[0], "registration_interval");
    ck_assert_str_eq(ch.was[0], "180");
    ck_assert_str_eq(ch.now[0], "60");
    ck_assert_str_eq(ch.keys[1], "Globals.Log.log_level");
    ck_assert_str_eq(ch.was[1], "\"info\"");
    ck_assert_str_eq(ch.now[1], "\"debug\"");
    ck_assert_str_eq(ch.keys[2], "Globals.Contexts.Events.ack_timeout");
    ck_assert_str_eq(ch.now[2], "\"5s\"");
}
END_TEST

/* A new proxy password is a change a reload names, shown as ***, and one
 * that waits for a restart (the proxy is decided once). */
START_TEST(reload_diff_sees_a_new_proxy_password_without_showing_it)
{
    static struct conn_config a, b;
    struct changes ch = {0};

    defaults_here(&a);
    defaults_here(&b);
    snprintf(a.http_proxy_url, sizeof(a.http_proxy_url),
             "http://device:old-one@127.0.0.1:3128");
    snprintf(b.http_proxy_url, sizeof(b.http_proxy_url),
             "http://device:new-one@127.0.0.1:3128");
    ck_assert_uint_eq(conn_config_diff(&a, &b, note_change, &ch), 1);
    ck_assert_str_eq(ch.keys[0], "HTTPProxy.url");
    ck_assert_str_eq(ch.was[0], "\"http://device:***@127.0.0.1:3128\"");
    ck_assert_str_eq(ch.now[0], ch.was[0]);
    ck_assert(!conn_config_live("HTTPProxy.url"));
    ck_assert(!conn_config_live("HTTPProxy.enabled"));
}
END_TEST

START_TEST(reload_takes_live_keys_only_when_asked)
{
    static struct conn_config a, b;

    defaults_here(&a);
    defaults_here(&b);
    b.sink_backoff_max_ms = 4000;
    snprintf(b.data_dir, sizeof(b.data_dir), "/elsewhere");
    ck_assert(conn_config_live("Globals.Contexts.Events.sink_backoff_max"));
    ck_assert(conn_config_live("Globals.Log.log_level"));
    ck_assert(!conn_config_live("Globals.data_dir"));
    ck_assert(!conn_config_live("Globals.server_port"));
    ck_assert(!conn_config_live("Globals.Contexts.Events.spool"));
    ck_assert_int_eq(
        conn_config_take(&a, &b, "Globals.Contexts.Events.sink_backoff_max"),
        0);
    ck_assert_uint_eq(a.sink_backoff_max_ms, 4000);
    ck_assert_str_ne(a.data_dir, "/elsewhere");
    ck_assert_int_eq(conn_config_take(&a, &b, "no.such.key"), -1);
}
END_TEST

START_TEST(fixtures_configs_load_cleanly)
{
    struct conn_config cfg;
    char top[PATH_MAX], props[PATH_MAX + 64], yaml[PATH_MAX + 64];
    char err[512] = "", out[16384];
    ssize_t n;
    int fd;

    source_dir(top, sizeof(top));
    snprintf(props, sizeof(props), "%s/fixtures/configs/connector.properties",
             top);
    snprintf(yaml, sizeof(yaml), "%s/fixtures/configs/connector.yaml", top);
    ck_assert_msg(access(props, R_OK) == 0, "%s missing", props);
    ck_assert_msg(access(yaml, R_OK) == 0, "%s missing", yaml);
    defaults_here(&cfg);
    ck_assert_msg(conn_config_load_properties(&cfg, props, err, sizeof(err)) ==
                      0,
                  "%s", err);
    ck_assert_msg(conn_config_load_settings(&cfg, yaml, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_msg(cfg.warning_count == 0, "%s", cfg.warnings[0]);
    /* The examples hold every key: the dump shows no default. */
    fd = open(put_file("dump.txt", ""), O_RDWR | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    conn_config_dump(&cfg, fd);
    n = pread(fd, out, sizeof(out) - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
    ck_assert_msg(strstr(out, "# default") == NULL, "%s", out);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("conn_config");
    TCase *props = tcase_create("properties");
    TCase *settings = tcase_create("settings");
    TCase *values = tcase_create("values");

    tcase_add_checked_fixture(props, setup, teardown);
    tcase_add_test(props, properties_real_keys_read);
    tcase_add_test(props, properties_unknown_key_warns_not_fails);
    tcase_add_test(props, properties_unknown_key_fails_when_strict);
    tcase_add_test(props, properties_binary_junk_is_refused_at_its_line);
    tcase_add_test(props, properties_bad_value_names_file_line_key);
    suite_add_tcase(s, props);

    tcase_add_checked_fixture(settings, setup, teardown);
    tcase_add_test(settings, settings_every_section_read);
    tcase_add_test(settings, settings_misspelt_key_names_file_line_column);
    tcase_add_test(settings, settings_wrong_type_names_key_and_expected);
    tcase_add_test(settings, settings_yaml_syntax_error_has_line_column);
    tcase_add_test(settings, paths_taken_under_root);
    tcase_add_test(settings, server_port_overrides_connector_port);
    tcase_add_test(settings, missing_files_keep_defaults);
    tcase_add_test(settings, unreadable_file_is_an_error);
    tcase_add_test(settings, explicit_files_missing_are_errors);
    tcase_add_test(settings, ca_file_garbage_is_an_error_naming_file);
    tcase_add_test(settings, ca_file_missing_warns_and_good_one_passes);
    tcase_add_test(settings, proxy_url_other_scheme_names_the_key);
    tcase_add_test(settings, cert_store_missing_said_only_when_configured);
    tcase_add_test(settings, dump_names_every_key_and_source);
    tcase_add_test(settings, proxy_url_password_never_shown);
    tcase_add_test(settings,
                   reload_diff_sees_a_new_proxy_password_without_showing_it);
    tcase_add_test(settings, fixtures_configs_load_cleanly);
    tcase_add_test(settings,
                   reload_diff_names_each_changed_key_with_both_values);
    tcase_add_test(settings, reload_takes_live_keys_only_when_asked);
    suite_add_tcase(s, settings);

    tcase_add_checked_fixture(values, setup, teardown);
    tcase_add_test(values, duration_parses_go_forms);
    tcase_add_test(values, duration_rejects_junk_and_negative);
    tcase_add_test(values, duration_format_reads_back);
    tcase_add_test(values, scaled_ms_divides_by_time_scale);
    suite_add_tcase(s, values);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
