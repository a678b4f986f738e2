/*
 * test_profile.c: connector profiles (lib/profile.c): what the loader
 * takes and where it says what is wrong, how placeholders fill, the
 * default profile of a plain command, and what a scenario needs of a
 * profile. Also the scenario keys conformance runs added (conformance,
 * log match and {not:}, log portable, api status classes).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "scenario.h"

static char err[4096];

static struct profile *
load(const char *text)
{
    struct profile *p = NULL;

    err[0] = '\0';
    if (profile_load_string(text, strlen(text), "p.yaml", &p, err,
                            sizeof(err)) != 0)
        return NULL;
    return p;
}

/* Loading text fails with exactly want. */
static void
refused(const char *text, const char *want)
{
    struct profile *p = load(text);

    ck_assert_msg(p == NULL, "loaded, expected \"%s\"", want);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "got \"%s\", expected it to start \"%s\"", err, want);
}

static struct scenario *
scenario(const char *text)
{
    struct scenario *s = NULL;

    err[0] = '\0';
    if (scenario_load_string(text, strlen(text), "s.yaml", &s, err,
                             sizeof(err)) != 0)
        return NULL;
    return s;
}

static const char good[] =
    "name: vendor-x\n"
    "version: 2.1\n"
    "command: '{root}/bin/x --config {settings} --port {port}'\n"
    "local_api: {port: pick}\n"
    "log: '{root}/var/log/x.log'\n"
    "understands: [time_scale]\n"
    "files:\n"
    "  settings:\n"
    "    path: etc/x.toml\n"
    "    template: |\n"
    "      [Globals]\n"
    "      time_scale = {time_scale}\n"
    "      ca = \"{ca_bundle}\"\n"
    "      backoff = \"{setting:Globals.Contexts.Events.sink_backoff_max}\"\n"
    "      interval = {property:registration_interval|180}\n"
    "      inline = {a: b}\n"
    "      brace = {{root}\n";

START_TEST(loads_a_profile_with_its_keys)
{
    struct profile *p = load(good);

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_str_eq(p->name, "vendor-x");
    ck_assert_str_eq(p->version, "2.1");
    ck_assert_int_eq(p->port_mode, PROFILE_PORT_PICK);
    ck_assert_uint_eq(p->caps, PROFILE_CAP_TIME_SCALE);
    ck_assert_uint_eq(p->nfiles, 1);
    ck_assert_str_eq(p->files[0].name, "settings");
    ck_assert_uint_eq(p->nsettings, 1);
    ck_assert_str_eq(p->settings[0],
                     "Globals.Contexts.Events.sink_backoff_max");
    ck_assert_uint_eq(p->nproperties, 1);
    ck_assert_str_eq(p->properties[0], "registration_interval");
    ck_assert(!p->is_default);
    profile_free(p);
}
END_TEST

START_TEST(port_modes_read)
{
    struct profile *p = load("name: a\ncommand: x\nlog: l\n"
                             "local_api: {port: 8989}\n");

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(p->port_mode, PROFILE_PORT_FIXED);
    ck_assert_int_eq(p->port, 8989);
    profile_free(p);
    p = load("name: a\ncommand: x\nlog: l\nlocal_api: {port: ports_file}\n");
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(p->port_mode, PROFILE_PORT_FILE);
    profile_free(p);
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: 70000}\n",
            "p.yaml:4:19: local_api.port: expected a port from 1 to 65535, "
            "pick, or ports_file");
}
END_TEST

START_TEST(bad_keys_are_named_with_file_line_and_field)
{
    refused("name: a\ncomand: x\n",
            "p.yaml:2:1: unknown key \"comand\" (expected one of: name, "
            "version, command, local_api, log,");
    refused("name: a\nlog: l\nlocal_api: {port: pick}\n",
            "p.yaml:1:1: missing required key \"command\"");
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: pick, pot: 1}\n",
            "p.yaml:4:25: local_api: unknown key \"pot\" (expected one of: "
            "port)");
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: pick}\n"
            "understands: [time_scale, colour]\n",
            "p.yaml:5:27: understands: unknown \"colour\" (expected one of: "
            "time_scale, status_detail,");
    refused("name: a\ncommand: x\nname: b\n", "p.yaml:3:1: name: given twice");
    refused("name: [a\n", "p.yaml:");
}
END_TEST

START_TEST(unknown_placeholder_is_placed_inside_its_template)
{
    /* Line 9 of the file, column 21: the brace of {prot} in the block. */
    refused("name: a\n"
            "command: x\n"
            "log: l\n"
            "local_api: {port: pick}\n"
            "files:\n"
            "  settings:\n"
            "    path: etc/x\n"
            "    template: |\n"
            "      port = {port} {prot}\n",
            "p.yaml:9:21: files.settings.template: unknown placeholder "
            "{prot}");
    refused("name: a\ncommand: 'x {root} {nope}'\nlog: l\n"
            "local_api: {port: pick}\n",
            "p.yaml:2:20: command: unknown placeholder {nope}");
    refused("name: a\ncommand: 'x {setting}'\nlog: l\n"
            "local_api: {port: pick}\n",
            "p.yaml:2:13: command: {setting} needs a key: {setting:KEY}");
}
END_TEST

START_TEST(claims_and_references_are_checked)
{
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: pick}\n"
            "understands: [time_scale]\n",
            "p.yaml:5:14: understands: time_scale, yet no template uses "
            "{time_scale}");
    refused("name: a\ncommand: 'x {audit}'\nlog: l\n"
            "local_api: {port: pick}\n",
            "p.yaml:2:1: command: {audit}: the profile has no audit key");
    refused("name: a\ncommand: 'x {file:conf}'\nlog: l\n"
            "local_api: {port: pick}\n",
            "p.yaml:2:1: command: {file:conf}: the profile has no such file");
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: pick}\n"
            "files:\n  a: {path: ../etc/x, template: t}\n",
            "p.yaml:6:13: files.a.path: \"..\" leaves the root");
    refused("name: a\ncommand: x\nlog: l\nlocal_api: {port: pick}\n"
            "files:\n  a: {path: /etc/x, template: t}\n",
            "p.yaml:6:13: files.a.path: expected a path relative to the "
            "connector's root");
    refused("name: a\ncommand: \"x\\ny\"\nlog: l\nlocal_api: {port: pick}\n",
            "p.yaml:2:10: command: expected one line");
}
END_TEST

START_TEST(placeholders_fill_and_unset_keys_drop_their_line)
{
    struct profile *p = load(good);
    struct scenario *s = scenario(
        "name: s\nconnector:\n"
        "  settings: {Globals: {Contexts: {Events: {sink_backoff_max: 4s}}}}\n"
        "steps:\n  - wait: 1s\n");
    struct profile_values v = {
        .root = "/r", .ca_bundle = "/r/ca.pem", .port = 4242, .time_scale = 20};
    char why[300], *out = NULL;

    ck_assert_msg(p != NULL && s != NULL, "%s", err);
    v.settings = s->settings;
    ck_assert_int_eq(
        profile_fill(p, p->files[0].text, &v, false, &out, why, sizeof(why)),
        0);
    ck_assert_str_eq(out, "[Globals]\n"
                          "time_scale = 20\n"
                          "ca = \"/r/ca.pem\"\n"
                          "backoff = \"4s\"\n"
                          "interval = 180\n"
                          "inline = {a: b}\n"
                          "brace = {root}\n");
    free(out);
    /* Without the setting, its line is left out. */
    v.settings = NULL;
    ck_assert_int_eq(
        profile_fill(p, p->files[0].text, &v, false, &out, why, sizeof(why)),
        0);
    ck_assert_ptr_null(strstr(out, "backoff"));
    ck_assert_ptr_nonnull(strstr(out, "interval = 180\n"));
    free(out);
    /* The command: each value quoted for the shell; {settings} is the
     * file's path under the root. */
    v.root = "/r/it's";
    ck_assert_int_eq(
        profile_fill(p, p->command, &v, true, &out, why, sizeof(why)), 0);
    ck_assert_str_eq(out, "'/r/it'\\''s'/bin/x --config '/r/it'\\''s/etc/"
                          "x.toml' --port '4242'");
    free(out);
    scenario_free(s);
    profile_free(p);
}
END_TEST

/* A connector with its own layout is told where EventHandler's socket is,
 * as a path and as the ZeroMQ endpoint, in a file and in the command. */
START_TEST(eventhandler_socket_fills_as_a_path_and_an_ipc_uri)
{
    static const char prof[] =
        "name: acme\n"
        "command: '/opt/x --events {events_uri} --port {port}'\n"
        "local_api: {port: pick}\n"
        "log: '{root}/x.log'\n"
        "files:\n"
        "  settings:\n"
        "    path: etc/x.toml\n"
        "    template: |\n"
        "      events_uri = \"{events_uri}\"\n"
        "      socket = \"{eventhandler_socket}\"\n";
    struct profile *p = load(prof);
    struct profile_values v = {.root = "/r",
                               .eventhandler_socket =
                                   "/r/ngfw/var/sf/run/EH.sock",
                               .port = 7};
    char why[300], *out = NULL;

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(
        profile_fill(p, p->files[0].text, &v, false, &out, why, sizeof(why)),
        0);
    ck_assert_str_eq(out, "events_uri = \"ipc:///r/ngfw/var/sf/run/EH.sock\"\n"
                          "socket = \"/r/ngfw/var/sf/run/EH.sock\"\n");
    free(out);
    ck_assert_int_eq(
        profile_fill(p, p->command, &v, true, &out, why, sizeof(why)), 0);
    ck_assert_str_eq(out, "/opt/x --events 'ipc:///r/ngfw/var/sf/run/EH.sock' "
                          "--port '7'");
    free(out);
    profile_free(p);
}
END_TEST

/* A misspelt {setting:KEY} is named once, at its own line and column,
 * with the known key it is nearest to. */
START_TEST(a_misspelt_setting_key_is_named_at_its_line_with_the_nearest)
{
    static const char *const known[] = {
        "Globals.Contexts.Events.sink_backoff_max",
        "Globals.Contexts.Events.source_zeromq_backoff_max",
        "Globals.Log.log_level"};
    static const char prof[] =
        "name: acme\n"
        "command: '/opt/x'\n"
        "local_api: {port: pick}\n"
        "log: '{root}/x.log'\n"
        "files:\n"
        "  settings:\n"
        "    path: etc/x.toml\n"
        "    template: |\n"
        "      level = {setting:Globals.Log.log_level|info}\n"
        "      max = {setting:Globals.Contexts.Events.sink_backof_max|1m}\n"
        "      other = {setting:Nothing.like.it}\n";
    struct profile *p = load(prof);
    char why[600];

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(profile_check_settings(p, known, 3, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "p.yaml:10:13: files.settings.template: unknown "
                          "setting Globals.Contexts.Events.sink_backof_max "
                          "(did you mean "
                          "Globals.Contexts.Events.sink_backoff_max?)");
    /* Known keys pass; one far from every known key is named alone. */
    ck_assert_int_eq(profile_check_settings(p, known, 1, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "unknown setting Globals.Log.log_level "
                                      "(docs/connector.md"));
    profile_free(p);
    p = load(good);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(profile_check_settings(p, known, 3, why, sizeof(why)), 0);
    profile_free(p);
}
END_TEST

START_TEST(a_plain_command_gets_the_default_profile)
{
    struct profile *p = NULL;

    ck_assert_int_eq(
        profile_default("/opt/x/bin/conn -v", &p, err, sizeof(err)), 0);
    ck_assert(p->is_default);
    ck_assert_str_eq(p->command,
                     "/opt/x/bin/conn -v --root {root} --ports-file "
                     "{ports_file}");
    ck_assert_int_eq(p->port_mode, PROFILE_PORT_FILE);
    ck_assert_uint_eq(p->caps, 0);
    ck_assert_uint_eq(p->nfiles, 2);
    profile_free(p);
    /* Placeholders of its own: the command says where things go. */
    ck_assert_int_eq(
        profile_default("conn --home {root}", &p, err, sizeof(err)), 0);
    ck_assert_str_eq(p->command, "conn --home {root}");
    profile_free(p);
    ck_assert_int_eq(profile_default("conn {rot}", &p, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "--connector:1:6: unknown placeholder {rot} "
                          "(\"{{\" writes a brace)");
}
END_TEST

static const char sselab_only[] =
    "name: s\n"
    "connector:\n"
    "  settings: {Globals: {Contexts: {Events: {spool: false}}}}\n"
    "steps:\n"
    "  - fmc: {}\n"
    "  - expect: {endpoint: {name: eventing, up: true}, within: 1m}\n"
    "  - expect: {status: Degraded, within: 1m}\n"
    "  - expect: {log: {pattern: 'registered with'}, within: 1m}\n"
    "  - expect: {log: {pattern: 'api-sse', portable: true}, within: 1m}\n"
    "  - expect: {status: Enrolled, within: 1m}\n"
    "  - signal: {connector: HUP}\n"
    "  - expect: {doctor: {check: config, result: ok}, within: 1m}\n";

START_TEST(what_a_scenario_needs_beyond_the_profile_is_named)
{
    struct profile *p = NULL;
    struct scenario *s = scenario(sselab_only);

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(profile_default("conn", &p, err, sizeof(err)), 0);
    ck_assert_int_eq(profile_check_scenario(p, s, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "s.yaml:3:44: connector.settings: "
                              "Globals.Contexts.Events.spool is not taken "
                              "by connector profile default") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "s.yaml:6:5: steps[1].expect.endpoint: reads "
                              "sselab's status detail") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "s.yaml:7:5: steps[2].expect.status: status "
                              "Degraded is sselab's own") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "s.yaml:8:5: steps[3].expect.log: matches "
                              "sselab's log wording") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "s.yaml:11:5: steps[6]: SIGHUP") != NULL, "%s",
                  err);
    ck_assert_msg(strstr(err, "s.yaml:12:5: steps[7].expect.doctor: asks "
                              "sse-doctor") != NULL,
                  "%s", err);
    /* The portable log line and status Enrolled are no problem. */
    ck_assert_ptr_null(strstr(err, "steps[4]"));
    ck_assert_ptr_null(strstr(err, "steps[5]"));
    profile_free(p);
    scenario_free(s);
}
END_TEST

START_TEST(a_profile_that_understands_it_all_takes_it_all)
{
    struct profile *p = load(
        "name: all\ncommand: 'x {time_scale}'\nlog: l\n"
        "local_api: {port: ports_file}\n"
        "understands: [time_scale, status_detail, log_wording, signals]\n"
        "files:\n  settings:\n    path: etc/c.yaml\n"
        "    template: 'spool: {setting:Globals.Contexts.Events.spool}'\n");
    struct scenario *s = scenario(sselab_only);

    ck_assert_msg(p != NULL && s != NULL, "%s", err);
    ck_assert_msg(profile_check_scenario(p, s, err, sizeof(err)) == 0, "%s",
                  err);
    profile_free(p);
    scenario_free(s);
}
END_TEST

START_TEST(conformance_and_portable_log_keys_read_and_checked)
{
    struct scenario *s = scenario(
        "name: c\nconformance: {id: conf.api.create-409, level: must}\n"
        "steps:\n"
        "  - api: {method: GET, path: /v1/contexts, status: 2xx}\n"
        "  - expect: {log: {match: line, pattern: {not: '^time='}, min: 0,"
        " max: 0, portable: true}, for: 1s}\n");

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->conformance.id, "conf.api.create-409");
    ck_assert(s->conformance.must);
    ck_assert(s->steps[0].u.api.status_class);
    ck_assert_int_eq(s->steps[0].u.api.status, 200);
    ck_assert(s->steps[1].u.expect.u.log.whole_line);
    ck_assert(s->steps[1].u.expect.u.log.negate);
    ck_assert(s->steps[1].u.expect.u.log.portable);
    ck_assert_str_eq(s->steps[1].u.expect.u.log.pattern, "^time=");
    scenario_free(s);
    ck_assert_ptr_null(scenario("name: c\nconformance: {id: Conf, level: must}"
                                "\nsteps: [{wait: 1s}]\n"));
    ck_assert_msg(strstr(err, "s.yaml:2:19: conformance.id: expected an id "
                              "of dotted words") != NULL,
                  "%s", err);
    ck_assert_ptr_null(scenario("name: c\nconformance: {id: a.b, level: may}"
                                "\nsteps: [{wait: 1s}]\n"));
    ck_assert_msg(strstr(err, "conformance.level: expected one of must,"
                              "should") != NULL,
                  "%s", err);
    ck_assert_ptr_null(scenario("name: c\nsteps:\n  - api: {path: /v1/x, "
                                "status: 6xx}\n"));
    ck_assert_msg(strstr(err, "steps[0].api.status: expected a status from "
                              "100 to 599, or 2xx to 5xx") != NULL,
                  "%s", err);
}
END_TEST

static Suite *
profile_suite(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, loads_a_profile_with_its_keys);
    tcase_add_test(tc, port_modes_read);
    tcase_add_test(tc, bad_keys_are_named_with_file_line_and_field);
    tcase_add_test(tc, unknown_placeholder_is_placed_inside_its_template);
    tcase_add_test(tc, claims_and_references_are_checked);
    tcase_add_test(tc, placeholders_fill_and_unset_keys_drop_their_line);
    tcase_add_test(tc, eventhandler_socket_fills_as_a_path_and_an_ipc_uri);
    tcase_add_test(
        tc, a_misspelt_setting_key_is_named_at_its_line_with_the_nearest);
    tcase_add_test(tc, a_plain_command_gets_the_default_profile);
    tcase_add_test(tc, what_a_scenario_needs_beyond_the_profile_is_named);
    tcase_add_test(tc, a_profile_that_understands_it_all_takes_it_all);
    tcase_add_test(tc, conformance_and_portable_log_keys_read_and_checked);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(profile_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
