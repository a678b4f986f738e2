/*
 * test_scenario.c: the scenario loader (lib/scenario.c): what it accepts,
 * and where and how it says what is wrong.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static char err[1024];

static struct scenario *
load(const char *text)
{
    struct scenario *s = NULL;

    err[0] = '\0';
    if (scenario_load_string(text, strlen(text), "t.yaml", &s, err,
                             sizeof(err)) != 0)
        return NULL;
    return s;
}

/* Loading text fails, and the message starts with want. */
static void
refused(const char *text, const char *want)
{
    struct scenario *s = load(text);

    ck_assert_msg(s == NULL, "loaded, expected \"%s\"", want);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "got \"%s\", expected it to start \"%s\"", err, want);
}

static const char every_step[] =
    "name: every-step\n"
    "description: one of each\n"
    "tags: [smoke, e2e]\n"
    "cases: [K05]\n"
    "region: us\n"
    "time_scale: 20\n"
    "seed: 7\n"
    "connector:\n"
    "  properties: {registration_interval: 60}\n"
    "  settings: {Globals: {Contexts: {Events: {sink_backoff_max: 4s}}}}\n"
    "steps:\n"
    "  - fault: {action: http.status, host: api-sse.cisco.com, status: 403,"
    " as: reg403}\n"
    "  - fmc: {activation: token, wait: false}\n"
    "  - send: {count: 1000, size: 1024, rate: 0, types: [intrusion, si]}\n"
    "  - expect: {log: {level: warn, pattern: 'HTTP 403', min: 2, max: 6},"
    " within: 60s}\n"
    "  - expect: {status: {not: Enrolled}, for: 20s}\n"
    "  - expect: {journal: {host: api-sse.cisco.com, event: request,"
    " status: 403, path: /providers, min: 2, max: 6}, within: 5m}\n"
    "  - clear: reg403\n"
    "  - expect: {status: Enrolled, within: 300s}\n"
    "  - expect: {ingest: {delivered: all, missing: 0, duplicates: 0},"
    " within: 2m}\n"
    "  - expect: {endpoint: {name: eventing, up: true}, within: 1s}\n"
    "  - start: eventhandler\n"
    "  - stop: connector\n"
    "  - kill: eventhandler\n"
    "  - restart: ssesim\n"
    "  - hostmap: {remove: eventing-ingest.sse.itd.cisco.com}\n"
    "  - hostmap: {restore: all}\n"
    "  - wait: 1m30s\n"
    "  - clear: all\n";

START_TEST(loads_every_step_kind)
{
    struct scenario *s = load(every_step);
    const struct scn_step *st;
    const struct scn_tree *t;
    char d[256];

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->name, "every-step");
    ck_assert_str_eq(s->description, "one of each");
    ck_assert_uint_eq(s->ntags, 2);
    ck_assert_str_eq(s->tags[1], "e2e");
    ck_assert_uint_eq(s->ncases, 1);
    ck_assert(s->time_scale == 20);
    ck_assert(s->has_seed && s->seed == 7);
    ck_assert_uint_eq(s->nsteps, 18);

    st = &s->steps[0];
    ck_assert_int_eq(st->kind, SCN_STEP_FAULT);
    ck_assert_str_eq(st->u.fault.as, "reg403");
    ck_assert_str_eq(st->u.fault.action, "http.status");
    ck_assert_int_eq(
        json_integer_value(json_object_get(st->u.fault.rule, "status")), 403);
    ck_assert_ptr_null(json_object_get(st->u.fault.rule, "as"));
    ck_assert_uint_eq(st->mark.line, 12);
    ck_assert_uint_eq(st->mark.column, 5);

    ck_assert_int_eq(s->steps[1].kind, SCN_STEP_FMC);
    ck_assert(!s->steps[1].u.fmc.whole && !s->steps[1].u.fmc.wait);
    ck_assert_int_eq(s->steps[2].kind, SCN_STEP_SEND);
    ck_assert_uint_eq(s->steps[2].u.send.count, 1000);
    ck_assert_str_eq(s->steps[2].u.send.types, "intrusion,si");

    st = &s->steps[3];
    ck_assert_int_eq(st->u.expect.kind, SCN_EXPECT_LOG);
    ck_assert_str_eq(st->u.expect.u.log.level, "warning");
    ck_assert_int_eq(st->u.expect.u.log.max, 6);
    ck_assert_int_eq(st->u.expect.time_ms, 60000);
    ck_assert(!st->u.expect.hold);

    st = &s->steps[4];
    ck_assert(st->u.expect.hold && st->u.expect.u.status.negate);
    ck_assert_int_eq(s->steps[5].u.expect.u.journal.status, 403);
    ck_assert_int_eq(s->steps[5].u.expect.time_ms, 300000);
    ck_assert_int_eq(s->steps[6].kind, SCN_STEP_CLEAR);
    ck_assert(s->steps[8].u.expect.u.ingest.all);
    ck_assert_int_eq(s->steps[8].u.expect.u.ingest.missing, 0);
    ck_assert_int_eq(s->steps[8].u.expect.u.ingest.duplicates_max, -1);
    ck_assert_int_eq(s->steps[9].u.expect.u.endpoint.up, 1);
    ck_assert_int_eq(s->steps[10].kind, SCN_STEP_START);
    ck_assert_int_eq(s->steps[10].u.part, SCN_PART_EVENTHANDLER);
    ck_assert_int_eq(s->steps[11].kind, SCN_STEP_STOP);
    ck_assert_int_eq(s->steps[12].kind, SCN_STEP_KILL);
    ck_assert_int_eq(s->steps[13].kind, SCN_STEP_RESTART);
    ck_assert_int_eq(s->steps[13].u.part, SCN_PART_SSESIM);
    ck_assert(s->steps[14].u.hostmap.remove);
    ck_assert_str_eq(s->steps[15].u.hostmap.host, "all");
    ck_assert_int_eq(s->steps[16].kind, SCN_STEP_WAIT);
    ck_assert_int_eq(s->steps[16].u.wait_ms, 90000);
    ck_assert_str_eq(s->steps[17].u.clear.name, "all");

    t = scenario_tree_find(s->settings,
                           "Globals.Contexts.Events.sink_backoff_max");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->value, "4s");
    t = scenario_tree_find(s->properties, "registration_interval");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->value, "60");

    scenario_step_describe(&s->steps[4], d, sizeof(d));
    ck_assert_str_eq(d, "expect status not Enrolled for 20s");
    scenario_step_describe(&s->steps[16], d, sizeof(d));
    ck_assert_str_eq(d, "wait 1m30s");
    scenario_free(s);
}
END_TEST

START_TEST(proxy_trust_and_journal_detail_read_and_checked)
{
    struct scenario *s =
        load("name: px\n"
             "connector:\n"
             "  proxy: {via: env, user: device, password: s3cret}\n"
             "steps:\n"
             "  - trust: {add: inspection-ca}\n"
             "  - trust: {remove: foreign-root}\n"
             "  - expect: {journal: {layer: proxy, event: connect,\n"
             "             detail: {not: 'via proxy'}, min: 0, max: 0},\n"
             "             for: 1s}\n"
             "  - expect: {journal: {detail: 'authenticated as device$'},\n"
             "             within: 1s}\n");
    char d[256];

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert(s->proxy.on && s->proxy.env);
    ck_assert_str_eq(s->proxy.user, "device");
    ck_assert_str_eq(s->proxy.password, "s3cret");
    ck_assert_int_eq(s->steps[0].kind, SCN_STEP_TRUST);
    ck_assert(s->steps[0].u.trust.add);
    ck_assert_str_eq(s->steps[0].u.trust.ca, "inspection-ca");
    ck_assert(!s->steps[1].u.trust.add);
    ck_assert_str_eq(s->steps[2].u.expect.u.journal.layer, "proxy");
    ck_assert(s->steps[2].u.expect.u.journal.detail_negate);
    ck_assert_str_eq(s->steps[2].u.expect.u.journal.detail, "via proxy");
    ck_assert(!s->steps[3].u.expect.u.journal.detail_negate);
    scenario_step_describe(&s->steps[0], d, sizeof(d));
    ck_assert_str_eq(d, "trust add inspection-ca (the connector's "
                        "Globals.cert_store)");
    scenario_step_describe(&s->steps[2], d, sizeof(d));
    ck_assert_msg(strstr(d, " detail not /via proxy/") != NULL, "%s", d);
    scenario_free(s);

    s = load("name: y\nsteps:\n  - fault: {action: proxy.auth-required,"
             " user: device, password: s3cret}\n");
    ck_assert_msg(s != NULL, "%s", err);
    scenario_step_describe(&s->steps[0], d, sizeof(d));
    ck_assert_msg(strstr(d, "\"password\":\"***\"") != NULL &&
                      strstr(d, "s3cret") == NULL,
                  "%s", d);
    scenario_free(s);

    refused("name: x\nconnector:\n  proxy: {user: device}\nsteps:\n"
            "  - wait: 1s\n",
            "t.yaml:3:10: connector.proxy: user and password go together");
    refused("name: x\nconnector:\n  proxy: {user: 'a:b', password: p}\n"
            "steps:\n  - wait: 1s\n",
            "t.yaml:3:17: connector.proxy.user: expected 1 to 63 letters");
    refused("name: x\nconnector:\n  proxy: {}\n"
            "  settings: {HTTPProxy: {enabled: true}}\n"
            "steps:\n  - wait: 1s\n",
            "t.yaml:4:14: connector.settings.HTTPProxy: set by the runner "
            "from connector.proxy");
    refused("name: x\nsteps:\n  - trust: {add: my-ca}\n",
            "t.yaml:3:18: steps[0].trust.add: expected one of inspection-ca");
    refused("name: x\nsteps:\n  - trust: {add: inspection-ca, "
            "remove: inspection-ca}\n",
            "t.yaml:3:12: steps[0].trust: expected exactly one of add, "
            "remove");
    refused("name: x\nsteps:\n  - expect: {journal: {detail: '(('},"
            " within: 1s}\n",
            "t.yaml:3:32: steps[0].expect.journal.detail: not a POSIX "
            "extended regular expression");
}
END_TEST

START_TEST(defaults_fill_what_is_left_out)
{
    struct scenario *s = load("name: tiny\nsteps:\n  - fmc:\n"
                              "  - expect: {status: Enrolled, within: 1s}\n");

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->region, "us");
    ck_assert(s->time_scale == 0 && !s->has_seed);
    ck_assert(s->steps[0].u.fmc.whole && s->steps[0].u.fmc.wait);
    ck_assert_int_eq(s->steps[0].u.fmc.within_ms, 120000);
    scenario_free(s);
}
END_TEST

START_TEST(misspelt_key_names_place_and_expected_keys)
{
    refused("name: x\nstpes: []\n",
            "t.yaml:2:1: unknown key \"stpes\" (expected one of: name, "
            "description, tags, cases, region, time_scale, seed, connector, "
            "conformance, steps)");
    refused(
        "name: x\nsteps:\n  - expect: {status: Enrolled, withn: 5s}\n",
        "t.yaml:3:32: steps[0].expect: unknown key \"withn\" (expected "
        "one of: status, log, ingest, journal, endpoint, field, exit, within, "
        "for, grace)");
    refused("name: x\nsteps:\n  - wiat: 5s\n",
            "t.yaml:3:5: steps[0]: unknown key \"wiat\" (expected one of: "
            "fault, clear, fmc, send, start");
}
END_TEST

START_TEST(wrong_type_is_named)
{
    refused("name: x\nsteps:\n  - send: {count: many}\n",
            "t.yaml:3:19: steps[0].send.count: expected a whole number from "
            "0 to 4294967295, got \"many\"");
    refused("name: x\nsteps: {wait: 5s}\n",
            "t.yaml:2:8: steps: expected a list, got a mapping");
    refused("name: x\nsteps:\n  - fmc: {wait: maybe}\n",
            "t.yaml:3:17: steps[0].fmc.wait: expected true or false, got "
            "\"maybe\"");
    refused("name: x\nsteps:\n  - start: ssesim\n",
            "t.yaml:3:12: steps[0].start: expected connector or "
            "eventhandler, got \"ssesim\"");
}
END_TEST

START_TEST(missing_name_is_refused)
{
    refused("description: no name\nsteps:\n  - wait: 1s\n",
            "t.yaml:1:1: missing required key \"name\"");
    refused("name: x\n", "t.yaml:1:1: missing required key \"steps\"");
    refused("name: x\nsteps:\n  - send: {size: 1024}\n",
            "t.yaml:3:11: steps[0].send: missing required key \"count\"");
}
END_TEST

START_TEST(bad_duration_is_refused)
{
    refused("name: x\nsteps:\n  - expect: {status: Enrolled, within: soon}\n",
            "t.yaml:3:40: steps[0].expect.within: expected a duration such "
            "as \"30s\", got \"soon\"");
    refused("name: x\nsteps:\n  - wait: 5\n",
            "t.yaml:3:11: steps[0].wait: expected a duration such as "
            "\"30s\", got \"5\"");
}
END_TEST

START_TEST(durations_parse_and_print_go_style)
{
    int64_t ms;
    char buf[32];

    ck_assert_int_eq(scenario_parse_duration("250ms", &ms), 0);
    ck_assert_int_eq(ms, 250);
    ck_assert_int_eq(scenario_parse_duration("1m30s", &ms), 0);
    ck_assert_int_eq(ms, 90000);
    ck_assert_int_eq(scenario_parse_duration("1.5s", &ms), 0);
    ck_assert_int_eq(ms, 1500);
    ck_assert_int_eq(scenario_parse_duration("2h", &ms), 0);
    ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(scenario_parse_duration("10us", &ms), 0);
    ck_assert_int_eq(ms, 1);
    ck_assert_int_eq(scenario_parse_duration("0", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(scenario_parse_duration("5", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("-5s", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("5 s", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("", &ms), -1);
    ck_assert_int_eq(scenario_parse_duration("s", &ms), -1);
    scenario_format_duration(90000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1m30s");
    scenario_format_duration(1500, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1.5s");
    scenario_format_duration(250, buf, sizeof(buf));
    ck_assert_str_eq(buf, "250ms");
    scenario_format_duration(3600000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1h");
}
END_TEST

START_TEST(fault_with_bad_field_is_reported_at_the_fault)
{
    refused("name: x\nsteps:\n  - wait: 1s\n"
            "  - fault: {action: http.nope, host: api-sse.cisco.com}\n",
            "t.yaml:4:13: steps[1].fault: unknown action \"http.nope\"");
    refused("name: x\nsteps:\n"
            "  - fault:\n"
            "      action: http.status\n"
            "      host: api-sse.cisco.com\n"
            "      status: nine\n",
            "t.yaml:6:7: steps[0].fault: ");
    refused("name: x\nsteps:\n  - fault: {host: api-sse.cisco.com}\n",
            "t.yaml:3:12: steps[0].fault: missing required key \"action\"");
}
END_TEST

START_TEST(clear_names_an_earlier_fault)
{
    refused("name: x\nsteps:\n  - clear: reg403\n",
            "t.yaml:3:12: steps[0].clear: expected \"all\" or the \"as\" "
            "name of an earlier fault, got \"reg403\"");
}
END_TEST

START_TEST(one_step_per_item)
{
    refused("name: x\nsteps:\n  - wait: 1s\n    stop: connector\n",
            "t.yaml:3:5: steps[0]: one step per list item, got 2 keys");
}
END_TEST

START_TEST(expectation_needs_one_condition_and_one_time)
{
    refused("name: x\nsteps:\n  - expect: {within: 5s}\n",
            "t.yaml:3:13: steps[0].expect: expected exactly one of status, "
            "log, ingest, journal, endpoint, field, exit (got 0)");
    refused("name: x\nsteps:\n  - expect: {status: Enrolled}\n",
            "t.yaml:3:13: steps[0].expect: expected exactly one of within, "
            "for (got 0)");
    refused("name: x\nsteps:\n  - expect: {status: Enroled, for: 1s}\n",
            "t.yaml:3:22: steps[0].expect.status: expected one of Disabled,");
    refused("name: x\nsteps:\n"
            "  - expect: {log: {pattern: 'a(', min: 1}, within: 1s}\n",
            "t.yaml:3:29: steps[0].expect.log.pattern: not a POSIX extended "
            "regular expression");
    refused("name: x\nsteps:\n"
            "  - expect: {journal: {event: x, min: 3, max: 2}, within: 1s}\n",
            "t.yaml:3:23: steps[0].expect.journal: min (3) is above max (2)");
}
END_TEST

START_TEST(runner_owned_settings_are_refused)
{
    refused("name: x\nconnector:\n  settings:\n    Globals:\n"
            "      time_scale: 5\nsteps:\n  - wait: 1s\n",
            "t.yaml:5:7: connector.settings.Globals.time_scale: set by the "
            "runner");
    refused("name: x\nconnector:\n  properties: {connector_port: 1}\n"
            "steps:\n  - wait: 1s\n",
            "t.yaml:3:16: connector.properties.connector_port: set by the "
            "runner");
}
END_TEST

START_TEST(yaml_syntax_error_has_a_place)
{
    refused("name: x\nsteps:\n  - wait: 1s\n  wait: [\n", "t.yaml:");
    ck_assert_ptr_nonnull(strstr(err, ": "));
    refused("", "t.yaml:1:1: the file is empty");
    refused("name: x\nsteps: [{wait: 1s}]\n---\nname: y\n",
            "t.yaml:4:1: one scenario per file");
}
END_TEST

START_TEST(non_utf8_byte_is_reported_at_its_line_and_column)
{
    refused("name: ab\xff"
            "cd\nsteps:\n  - wait: 1s\n",
            "t.yaml:1:9: invalid leading UTF-8 octet (byte 0xff)");
    /* Columns count characters: the two bytes of "\u00e9" are one. */
    refused("name: x\nsteps:\n  - wait: 1s\ndescription: \"\xc3\xa9\xfe\"\n",
            "t.yaml:4:16: invalid leading UTF-8 octet (byte 0xfe)");
    /* Past the first document, too. */
    refused("name: x\nsteps: [{wait: 1s}]\n---\nname: \xff\n",
            "t.yaml:4:7: invalid leading UTF-8 octet");
}
END_TEST

START_TEST(duplicate_names_across_files_are_refused)
{
    struct scenario *list[3];
    const char *texts[] = {"name: a\nsteps: [{wait: 1s}]\n",
                           "name: b\nsteps: [{wait: 1s}]\n",
                           "name: a\nsteps: [{wait: 2s}]\n"};
    const char *files[] = {"one.yaml", "two.yaml", "three.yaml"};

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(scenario_load_string(texts[i], strlen(texts[i]),
                                              files[i], &list[i], err,
                                              sizeof(err)),
                         0);
    ck_assert_int_eq(scenario_names_unique(list, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(scenario_names_unique(list, 3, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "three.yaml: name \"a\" is taken by one.yaml too "
                          "(names are unique in a run)");
    for (int i = 0; i < 3; i++)
        scenario_free(list[i]);
}
END_TEST

START_TEST(repeated_key_is_refused)
{
    refused("name: x\nname: y\nsteps: [{wait: 1s}]\n",
            "t.yaml:2:1: name: given twice");
}
END_TEST

START_TEST(signal_step_names_part_and_signal)
{
    struct scenario *s = load("name: x\nsteps:\n"
                              "  - signal: {connector: HUP}\n"
                              "  - signal: {eventhandler: KILL}\n");
    char d[128];

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(s->steps[0].kind, SCN_STEP_SIGNAL);
    ck_assert_int_eq(s->steps[0].u.signal.part, SCN_PART_CONNECTOR);
    ck_assert_int_eq(s->steps[0].u.signal.signo, SIGHUP);
    ck_assert_int_eq(s->steps[1].u.signal.part, SCN_PART_EVENTHANDLER);
    ck_assert_int_eq(s->steps[1].u.signal.signo, SIGKILL);
    scenario_step_describe(&s->steps[0], d, sizeof(d));
    ck_assert_str_eq(d, "signal connector SIGHUP");
    scenario_free(s);
    refused("name: x\nsteps:\n  - signal: {connector: HANGUP}\n",
            "t.yaml:3:25: steps[0].signal.connector: expected one of HUP, "
            "TERM, INT, USR1, USR2, KILL, got \"HANGUP\"");
    refused("name: x\nsteps:\n  - signal: {ssesim: HUP}\n",
            "t.yaml:3:14: steps[0].signal: unknown key \"ssesim\" (expected "
            "one of: connector, eventhandler)");
    refused("name: x\nsteps:\n"
            "  - signal: {connector: HUP, eventhandler: TERM}\n",
            "t.yaml:3:13: steps[0].signal: expected exactly one of "
            "connector, eventhandler");
}
END_TEST

START_TEST(api_reconfigure_exit_and_fmc_guid_read_and_checked)
{
    struct scenario *s = load(
        "name: x\nsteps:\n"
        "  - fmc: {guid: 5b0e2c1a-7d3f-4e8b-9a61-2c4d8e0f1a3b}\n"
        "  - api: {path: '/v1/action?type=replace', status: 202}\n"
        "  - api: {method: DELETE, path: /v1/contexts/default}\n"
        "  - api: {path: /v1/contexts/, body: '{\"clientInfo\":{}}'}\n"
        "  - reconfigure: {settings: {Globals: {Log: {log_level: debug}}}}\n"
        "  - expect: {exit: {connector: 0}, within: 30s}\n");
    char d[160];

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_str_eq(s->steps[0].u.fmc.guid,
                     "5b0e2c1a-7d3f-4e8b-9a61-2c4d8e0f1a3b");
    ck_assert_int_eq(s->steps[1].kind, SCN_STEP_API);
    ck_assert_str_eq(s->steps[1].u.api.method, "POST");
    ck_assert_str_eq(s->steps[1].u.api.path, "/v1/action?type=replace");
    ck_assert_int_eq(s->steps[1].u.api.status, 202);
    ck_assert_ptr_null(s->steps[1].u.api.body);
    ck_assert_str_eq(s->steps[2].u.api.method, "DELETE");
    ck_assert_int_eq(s->steps[2].u.api.status, -1);
    ck_assert_str_eq(s->steps[3].u.api.body, "{\"clientInfo\":{}}");
    ck_assert_int_eq(s->steps[4].kind, SCN_STEP_RECONFIGURE);
    ck_assert_ptr_null(s->steps[4].u.reconfigure.properties);
    ck_assert_str_eq(scenario_tree_find(s->steps[4].u.reconfigure.settings,
                                        "Globals.Log.log_level")
                         ->value,
                     "debug");
    ck_assert_int_eq(s->steps[5].u.expect.kind, SCN_EXPECT_EXIT);
    ck_assert_int_eq(s->steps[5].u.expect.u.exit.part, SCN_PART_CONNECTOR);
    ck_assert_int_eq(s->steps[5].u.expect.u.exit.code, 0);
    scenario_step_describe(&s->steps[1], d, sizeof(d));
    ck_assert_str_eq(d, "api POST /v1/action?type=replace, answered 202");
    scenario_step_describe(&s->steps[5], d, sizeof(d));
    ck_assert_str_eq(d, "expect exit connector 0 within 30s");
    scenario_free(s);
    refused("name: x\nsteps:\n  - api: {path: /status}\n",
            "t.yaml:3:17: steps[0].api.path: expected a path of the local "
            "API such as \"/v1/action?type=replace\", got \"/status\"");
    refused("name: x\nsteps:\n  - api: {path: /v1/contexts/, body: '{x'}\n",
            "t.yaml:3:38: steps[0].api.body: the body is not JSON");
    refused("name: x\nsteps:\n  - api: {path: /v1/x, method: PUT}\n",
            "t.yaml:3:32: steps[0].api.method: expected one of GET,POST,"
            "DELETE");
    refused("name: x\nsteps:\n  - reconfigure: {}\n",
            "t.yaml:3:18: steps[0].reconfigure: expected properties, "
            "settings or both");
    refused("name: x\nsteps:\n"
            "  - reconfigure: {settings: {Globals: {time_scale: 5}}}\n",
            "t.yaml:3:40: steps[0].reconfigure.settings.Globals.time_scale: "
            "set by the runner");
    refused("name: x\nsteps:\n"
            "  - expect: {exit: {connector: 300}, within: 1s}\n",
            "t.yaml:3:32: steps[0].expect.exit.connector: expected a whole "
            "number from 0 to 255");
    refused("name: x\nsteps:\n"
            "  - expect: {exit: {ssesim: 0}, within: 1s}\n",
            "t.yaml:3:21: steps[0].expect.exit: unknown key \"ssesim\"");
}
END_TEST

static const char chaos_text[] =
    "name: x\nsteps:\n"
    "  - chaos: {for: 60s, faults: 100, seed: 7, kill_connector: 5,\n"
    "            restart_ingest: 5, min_hit: 90,\n"
    "            actions: [tcp.reset, ws.close, ws.drop, tcp.partition],\n"
    "            codes: [1000, 1001, 1011, 1012], outage_min: 1s,\n"
    "            outage_max: 3s}\n";

START_TEST(chaos_step_reads_and_checks_its_programme)
{
    struct scenario *s = load(chaos_text);
    const struct scn_chaos *ch;

    ck_assert_msg(s != NULL, "%s", err);
    ch = &s->steps[0].u.chaos;
    ck_assert_int_eq(s->steps[0].kind, SCN_STEP_CHAOS);
    ck_assert_int_eq(ch->span_ms, 60000);
    ck_assert_uint_eq(ch->faults, 100);
    ck_assert(ch->has_seed && ch->seed == 7);
    ck_assert_uint_eq(ch->kills, 5);
    ck_assert_uint_eq(ch->restarts, 5);
    ck_assert_uint_eq(ch->min_hit, 90);
    ck_assert_uint_eq(ch->ncodes, 4);
    ck_assert_int_eq(ch->codes[3], 1012);
    ck_assert_int_eq(ch->outage_max_ms, 3000);
    scenario_free(s);
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 3, "
            "kill_connector: 2, restart_ingest: 2}\n",
            "t.yaml:3:12: steps[0].chaos: kill_connector (2) and "
            "restart_ingest (2) are more than faults (3)");
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 3, "
            "actions: [tcp.reset, ws.explode]}\n",
            "t.yaml:3:43: steps[0].chaos.actions: unknown chaos action "
            "\"ws.explode\"");
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 3, "
            "codes: [1000, 1006]}\n",
            "t.yaml:3:48: steps[0].chaos.codes[1]: expected a close code "
            "from 1000 to 4999 but 1005, 1006, 1015, got \"1006\"");
    s = load("name: x\nsteps:\n  - chaos: {for: 10s, faults: 10, "
             "kill_connector: 1, actions: {ws.close: 6, tcp.partition: 3}}\n");
    ck_assert_msg(s != NULL, "%s", err);
    ch = &s->steps[0].u.chaos;
    ck_assert(ch->counted);
    ck_assert_uint_eq(ch->counts[SCN_CHAOS_CLOSE], 6);
    ck_assert_uint_eq(ch->counts[SCN_CHAOS_PARTITION], 3);
    scenario_free(s);
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 10, "
            "actions: {ws.close: 6, tcp.partition: 3}}\n",
            "t.yaml:3:12: steps[0].chaos: kill_connector, restart_ingest and "
            "the counts of actions add up to 9, not faults (10)");
    refused("name: x\nsteps:\n  - chaos: {faults: 3}\n",
            "t.yaml:3:12: steps[0].chaos: missing required key \"for\"");
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 3, "
            "min_hit: 4}\n",
            "t.yaml:3:12: steps[0].chaos: min_hit (4) is above faults (3)");
    refused("name: x\nsteps:\n  - chaos: {for: 10s, faults: 3, "
            "host: api-sse.cisco.com}\n",
            "t.yaml:3:40: steps[0].chaos.host: expected an eventing-ingest "
            "or mx01 host name");
}
END_TEST

START_TEST(chaos_plan_is_reproducible_counted_and_inside_its_span)
{
    struct scenario *s = load(chaos_text);
    struct scn_chaos_item *a, *b;
    size_t na, nb;
    unsigned kinds[SCN_CHAOS_KIND_COUNT] = {0};
    bool differs = false;

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(scenario_chaos_plan(&s->steps[0].u.chaos, 7, &a, &na), 0);
    ck_assert_int_eq(scenario_chaos_plan(&s->steps[0].u.chaos, 7, &b, &nb), 0);
    ck_assert_uint_eq(na, 100);
    ck_assert_mem_eq(a, b, na * sizeof(*a));
    for (size_t i = 0; i < na; i++) {
        kinds[a[i].kind]++;
        ck_assert_int_ge(a[i].at_ms, 0);
        ck_assert_int_le(a[i].at_ms + a[i].for_ms, 60000);
        if (i > 0)
            ck_assert_int_ge(a[i].at_ms, a[i - 1].at_ms);
        if (a[i].kind == SCN_CHAOS_CLOSE)
            ck_assert(a[i].code == 1000 || a[i].code == 1001 ||
                      a[i].code == 1011 || a[i].code == 1012);
        if (a[i].kind == SCN_CHAOS_RESTART)
            ck_assert(a[i].for_ms <= 3000);
    }
    ck_assert_uint_eq(kinds[SCN_CHAOS_KILL], 5);
    ck_assert_uint_eq(kinds[SCN_CHAOS_RESTART], 5);
    ck_assert_uint_eq(kinds[SCN_CHAOS_WITHHOLD], 0);
    ck_assert_uint_eq(kinds[SCN_CHAOS_RESET] + kinds[SCN_CHAOS_CLOSE] +
                          kinds[SCN_CHAOS_DROP] + kinds[SCN_CHAOS_PARTITION],
                      90);
    for (int k = SCN_CHAOS_RESET; k <= SCN_CHAOS_PARTITION; k++)
        ck_assert_uint_ge(kinds[k], 22);
    /* Spread: each quarter of the programme has about a quarter of every
     * kind, so that outages do not bunch up into one. */
    for (int q = 0; q < 4; q++) {
        unsigned in_q[SCN_CHAOS_KIND_COUNT] = {0};

        for (size_t i = (size_t)q * na / 4; i < (size_t)(q + 1) * na / 4; i++)
            in_q[a[i].kind]++;
        for (int k = 0; k < SCN_CHAOS_KIND_COUNT; k++)
            ck_assert_msg(in_q[k] * 4 + 8 >= kinds[k] &&
                              in_q[k] * 4 <= kinds[k] + 8,
                          "quarter %d has %u of kind %d, %u in all", q, in_q[k],
                          k, kinds[k]);
    }
    /* Kills never come two slots in a row. */
    for (size_t i = 1; i < na; i++)
        ck_assert(a[i].kind != SCN_CHAOS_KILL ||
                  a[i - 1].kind != SCN_CHAOS_KILL);
    free(b);
    ck_assert_int_eq(scenario_chaos_plan(&s->steps[0].u.chaos, 8, &b, &nb), 0);
    for (size_t i = 0; i < na && !differs; i++)
        differs = a[i].kind != b[i].kind || a[i].at_ms != b[i].at_ms;
    ck_assert_msg(differs, "another seed gave the same programme");
    free(a);
    free(b);
    scenario_free(s);
    /* Counted actions: exactly so many of each. */
    s = load("name: x\nsteps:\n  - chaos: {for: 30s, faults: 20, "
             "restart_ingest: 2, actions: {ws.close: 15, tcp.partition: 3}}\n");
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(scenario_chaos_plan(&s->steps[0].u.chaos, 1, &a, &na), 0);
    memset(kinds, 0, sizeof(kinds));
    for (size_t i = 0; i < na; i++)
        kinds[a[i].kind]++;
    ck_assert_uint_eq(kinds[SCN_CHAOS_RESTART], 2);
    ck_assert_uint_eq(kinds[SCN_CHAOS_CLOSE], 15);
    ck_assert_uint_eq(kinds[SCN_CHAOS_PARTITION], 3);
    free(a);
    scenario_free(s);
}
END_TEST

START_TEST(ingest_duplicates_min_and_its_bounds)
{
    struct scenario *s =
        load("name: x\nsteps:\n"
             "  - expect: {ingest: {delivered: all, missing: 0,\n"
             "             duplicates_min: 1}, within: 5s}\n");
    const struct scn_expect *e;
    char d[256];

    ck_assert_msg(s != NULL, "%s", err);
    e = &s->steps[0].u.expect;
    ck_assert_int_eq(e->u.ingest.duplicates_min, 1);
    ck_assert_int_eq(e->u.ingest.duplicates, -1);
    scenario_step_describe(&s->steps[0], d, sizeof(d));
    ck_assert_str_eq(d, "expect ingest delivered all missing 0 "
                        "duplicates_min 1 within 5s");
    scenario_free(s);
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {duplicates_min: 3, duplicates_max: 2},\n"
            "             within: 5s}\n",
            "t.yaml:3:22: steps[0].expect.ingest: duplicates_min 3 can never "
            "hold with duplicates at most 2");
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {duplicates_min: 1, duplicates: 0},\n"
            "             within: 5s}\n",
            "t.yaml:3:22: steps[0].expect.ingest: duplicates_min 1 can never "
            "hold with duplicates exactly 0");
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {duplicates_min: -1}, within: 5s}\n",
            "t.yaml:3:39: steps[0].expect.ingest.duplicates_min: expected a "
            "whole number from 0 to 4294967295, got \"-1\"");
}
END_TEST

START_TEST(ingest_against_accepted_and_its_checks)
{
    struct scenario *s =
        load("name: x\nsteps:\n"
             "  - expect: {ingest: {against: accepted, missing: 0,\n"
             "             duplicates_max_pct: 0.5, gaps_max: 10},\n"
             "             within: 5s, grace: 0s}\n"
             "  - expect: {ingest: {against: accepted, snapshot: start,\n"
             "             delivered: all}, within: 5s}\n");
    const struct scn_expect *e;
    char d[256];

    ck_assert_msg(s != NULL, "%s", err);
    e = &s->steps[0].u.expect;
    ck_assert(e->u.ingest.accepted && !e->u.ingest.snapshot);
    ck_assert_int_eq(e->u.ingest.missing, 0);
    ck_assert(e->u.ingest.dup_max_pct == 0.5);
    ck_assert_int_eq(e->u.ingest.gaps_max, 10);
    ck_assert_int_eq(e->u.ingest.gaps, -1);
    ck_assert_int_eq(e->grace_ms, 0);
    ck_assert(s->steps[1].u.expect.u.ingest.snapshot);
    ck_assert_int_eq(s->steps[1].u.expect.grace_ms, -1);
    scenario_step_describe(&s->steps[0], d, sizeof(d));
    ck_assert_str_eq(d, "expect ingest against accepted missing 0 "
                        "duplicates_max_pct 0.5 gaps_max 10 within 5s "
                        "(grace 0s)");
    scenario_free(s);
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {gaps: 0}, within: 5s}\n",
            "t.yaml:3:22: steps[0].expect.ingest: gaps needs \"against: "
            "accepted\"");
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {against: accepted}, within: 5s}\n",
            "t.yaml:3:22: steps[0].expect.ingest: expected at least one of "
            "delivered, missing");
    refused("name: x\nsteps:\n"
            "  - expect: {ingest: {against: all, missing: 0}, within: 5s}\n",
            "t.yaml:3:32: steps[0].expect.ingest.against: expected one of "
            "sent,accepted, got \"all\"");
    refused("name: x\nsteps:\n"
            "  - expect: {status: Enrolled, for: 5s, grace: 1s}\n",
            "t.yaml:3:13: steps[0].expect: grace applies to within only");
}
END_TEST

START_TEST(field_and_journal_intervals)
{
    struct scenario *s = load(
        "name: x\nsteps:\n"
        "  - expect: {field: {path: events.sequence_gaps, min: 10, max: 10},"
        " within: 5s}\n"
        "  - expect: {field: {path: spool.full, equals: 'true'}, within: 1s}\n"
        "  - expect: {journal: {event: accept, min: 4,\n"
        "             interval: {min: 100ms, max: 4.5s, below: 2s}},"
        " within: 1m}\n");
    const struct scn_expect *e;

    ck_assert_msg(s != NULL, "%s", err);
    e = &s->steps[0].u.expect;
    ck_assert_int_eq(e->kind, SCN_EXPECT_FIELD);
    ck_assert_str_eq(e->u.field.path, "events.sequence_gaps");
    ck_assert(e->u.field.has_min && e->u.field.min == 10);
    ck_assert_str_eq(s->steps[1].u.expect.u.field.equals, "true");
    e = &s->steps[2].u.expect;
    ck_assert_int_eq(e->u.journal.gap_min_ms, 100);
    ck_assert_int_eq(e->u.journal.gap_max_ms, 4500);
    ck_assert_int_eq(e->u.journal.gap_below_ms, 2000);
    scenario_free(s);
    refused("name: x\nsteps:\n"
            "  - expect: {field: {path: events..gaps, min: 1}, within: 1s}\n",
            "t.yaml:3:28: steps[0].expect.field.path: expected a dotted "
            "path");
    refused("name: x\nsteps:\n"
            "  - expect: {field: {path: events.held}, within: 1s}\n",
            "t.yaml:3:21: steps[0].expect.field: expected at least one of "
            "min, max, equals");
    refused("name: x\nsteps:\n"
            "  - expect: {journal: {interval: {min: 2s, max: 1s}},"
            " within: 1s}\n",
            "t.yaml:3:34: steps[0].expect.journal.interval: min is above "
            "max");
}
END_TEST

START_TEST(disk_needs_a_tmpfs_and_sizes_read)
{
    struct scenario *s = load("name: x\nconnector: {tmpfs: 2MiB}\nsteps:\n"
                              "  - disk: {fill: true}\n"
                              "  - disk: {free: true}\n"
                              "  - corrupt: {spool_record: 5}\n"
                              "  - send: {count: 10, gap_every: 3}\n");

    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_uint_eq(s->tmpfs_bytes, 2u << 20);
    ck_assert(s->steps[0].u.disk_fill);
    ck_assert(!s->steps[1].u.disk_fill);
    ck_assert_uint_eq(s->steps[2].u.corrupt_record, 5);
    ck_assert_uint_eq(s->steps[3].u.send.gap_every, 3);
    scenario_free(s);
    refused("name: x\nsteps:\n  - wait: 1s\n  - disk: {fill: true}\n",
            "t.yaml:4:5: steps[1].disk: needs connector.tmpfs");
    refused("name: x\nconnector: {tmpfs: 2MB}\nsteps:\n  - wait: 1s\n",
            "t.yaml:2:20: connector.tmpfs: expected a size from 64KiB to "
            "1GiB, such as \"2MiB\", got \"2MB\"");
    refused("name: x\nconnector: {tmpfs: 2MiB}\nsteps:\n"
            "  - disk: {fill: true, free: true}\n",
            "t.yaml:4:11: steps[0].disk: expected exactly one of fill, free");
    refused("name: x\nconnector:\n  settings: {Globals: {Contexts: {Events:"
            " {accepted_audit_file: /x}}}}\nsteps:\n  - wait: 1s\n",
            "t.yaml:3:44: connector.settings.Globals.Contexts.Events."
            "accepted_audit_file: set by the runner");
}
END_TEST

static Suite *
scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("load");

    tcase_add_test(tc, loads_every_step_kind);
    tcase_add_test(tc, defaults_fill_what_is_left_out);
    tcase_add_test(tc, proxy_trust_and_journal_detail_read_and_checked);
    tcase_add_test(tc, misspelt_key_names_place_and_expected_keys);
    tcase_add_test(tc, wrong_type_is_named);
    tcase_add_test(tc, missing_name_is_refused);
    tcase_add_test(tc, bad_duration_is_refused);
    tcase_add_test(tc, durations_parse_and_print_go_style);
    tcase_add_test(tc, fault_with_bad_field_is_reported_at_the_fault);
    tcase_add_test(tc, clear_names_an_earlier_fault);
    tcase_add_test(tc, one_step_per_item);
    tcase_add_test(tc, expectation_needs_one_condition_and_one_time);
    tcase_add_test(tc, runner_owned_settings_are_refused);
    tcase_add_test(tc, yaml_syntax_error_has_a_place);
    tcase_add_test(tc, non_utf8_byte_is_reported_at_its_line_and_column);
    tcase_add_test(tc, duplicate_names_across_files_are_refused);
    tcase_add_test(tc, repeated_key_is_refused);
    tcase_add_test(tc, signal_step_names_part_and_signal);
    tcase_add_test(tc, chaos_step_reads_and_checks_its_programme);
    tcase_add_test(tc, chaos_plan_is_reproducible_counted_and_inside_its_span);
    tcase_add_test(tc, ingest_duplicates_min_and_its_bounds);
    tcase_add_test(tc, ingest_against_accepted_and_its_checks);
    tcase_add_test(tc, field_and_journal_intervals);
    tcase_add_test(tc, disk_needs_a_tmpfs_and_sizes_read);
    tcase_add_test(tc, api_reconfigure_exit_and_fmc_guid_read_and_checked);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scenario_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
