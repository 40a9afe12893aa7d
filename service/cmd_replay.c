/*
 * cmd_replay.c - `provflow replay`: move a consumer group's committed
 * offsets on the input topic back (or forward), so that the service
 * processes those events again. Dry run unless --execute.
 *
 * The new commits carry an intent ("hw=<end - 1>;", written by
 * pf_ckpt_meta_format()) in their metadata: every replayed record is then
 * checked against its set's flows before any create, so a replay
 * re-creates nothing that exists (pipeline.h). No done offsets: they
 * belonged to the old position.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provflow/cli.h"
#include "provflow/config.h"
#include "provflow/event.h"
#include "provflow/kafka.h"
#include "provflow/offsets.h"

#define TIMEOUT_MS 15000

static void usage(FILE *out)
{
    fputs("Usage: provflow replay (--to-datetime TIME | --to-offset N |\n"
          "                        --to-earliest | --to-latest) [options]\n"
          "\n"
          "Moves the consumer group's committed offsets on the input topic,\n"
          "for all partitions or --partitions, and prints per partition the\n"
          "current and new offsets and how many events will be processed\n"
          "again. Nothing changes without --execute. Refuses while the group\n"
          "has active members: stop the service first. Replayed events that\n"
          "were created already come out as \"exists\", never created twice.\n"
          "\n"
          "Options:\n",
          out);
    pf_config_usage(out, PF_CMD_REPLAY);
    fputs("\nExit status: 0 done (or dry run printed); 64 usage; 69 Kafka\n"
          "unreachable or the group is active; 78 bad configuration.\n",
          out);
}

/* "0,3,7" to a membership test over partition ids < n. */
static int parse_partitions(const char *list, int n, char *want)
{
    const char *p = list;

    memset(want, 0, (size_t)n);
    while (*p != '\0') {
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (errno != 0 || end == p || v < 0 || v >= n)
            return -1;
        want[v] = 1;
        p = end;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return -1;
    }
    return 0;
}

/* Active members of the group, or -1 when Kafka cannot tell. */
static int group_members(rd_kafka_t *rk, const char *group)
{
    const struct rd_kafka_group_list *gl = NULL;
    int members = -1;

    if (rd_kafka_list_groups(rk, group, &gl, TIMEOUT_MS) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    if (gl->group_cnt == 1)
        members = gl->groups[0].member_cnt;
    else if (gl->group_cnt == 0)
        members = 0;
    rd_kafka_group_list_destroy(gl);
    return members;
}

int pf_cmd_replay(int argc, char **argv)
{
    rd_kafka_topic_partition_list_t *current = NULL, *target = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    pf_config cfg;
    char err[512], *want = NULL;
    int first, modes, rc = PF_EXIT_UNAVAIL, nparts = 0, i, t;
    int64_t when = 0, to_offset = -1, total = 0;

    first =
        pf_config_cli(&cfg, PF_CMD_REPLAY, "replay", argc, argv, usage, &rc);
    if (first < 0)
        return rc;
    if (first < argc) {
        fputs("Run 'provflow replay --help' for usage.\n", stderr);
        pf_config_release(&cfg);
        return PF_EXIT_USAGE;
    }
    modes = (cfg.to_datetime != NULL) + (cfg.to_offset != NULL) +
            cfg.to_earliest + cfg.to_latest;
    if (modes != 1) {
        fputs("provflow replay: give exactly one of --to-datetime, "
              "--to-offset, --to-earliest, --to-latest\n",
              stderr);
        pf_config_release(&cfg);
        return PF_EXIT_USAGE;
    }
    if (cfg.to_datetime != NULL &&
        pf_time_parse_ms(cfg.to_datetime, &when) != 0) {
        fprintf(stderr,
                "provflow replay: --to-datetime %s: not an RFC 3339 "
                "time such as 2026-11-01T00:00:00Z\n",
                cfg.to_datetime);
        pf_config_release(&cfg);
        return PF_EXIT_USAGE;
    }
    if (cfg.to_offset != NULL) {
        char *end;

        errno = 0;
        to_offset = strtoll(cfg.to_offset, &end, 10);
        if (errno != 0 || *end != '\0' || to_offset < 0) {
            fprintf(stderr, "provflow replay: --to-offset %s: not an offset\n",
                    cfg.to_offset);
            pf_config_release(&cfg);
            return PF_EXIT_USAGE;
        }
    }

    conf = pf_kafka_consumer_conf(&cfg, NULL, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "provflow replay: %s\n", err);
        pf_config_release(&cfg);
        return PF_EXIT_CONFIG;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "provflow replay: %s\n", err);
        pf_config_release(&cfg);
        return PF_EXIT_CONFIG;
    }

    /* The topic's partitions. */
    if (rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "provflow replay: Kafka at %s is unreachable\n",
                cfg.brokers);
        goto out;
    }
    for (t = 0; t < md->topic_cnt; t++) {
        if (strcmp(md->topics[t].topic, cfg.input_topic) == 0)
            nparts = md->topics[t].partition_cnt;
    }
    if (nparts == 0) {
        fprintf(stderr, "provflow replay: topic %s does not exist\n",
                cfg.input_topic);
        rc = PF_EXIT_CONFIG;
        goto out;
    }
    want = malloc((size_t)nparts);
    if (want == NULL)
        goto out;
    memset(want, 1, (size_t)nparts);
    if (cfg.partitions != NULL &&
        parse_partitions(cfg.partitions, nparts, want) != 0) {
        fprintf(stderr,
                "provflow replay: --partitions %s: not a list of "
                "partitions 0..%d\n",
                cfg.partitions, nparts - 1);
        rc = PF_EXIT_USAGE;
        goto out;
    }
    i = group_members(rk, cfg.group_id);
    if (i != 0) {
        fprintf(stderr,
                i < 0 ? "provflow replay: cannot describe group %s\n"
                      : "provflow replay: group %s has active members: stop "
                        "the service first\n",
                cfg.group_id);
        goto out;
    }

    current = rd_kafka_topic_partition_list_new(nparts);
    target = rd_kafka_topic_partition_list_new(nparts);
    for (i = 0; i < nparts; i++) {
        if (!want[i])
            continue;
        rd_kafka_topic_partition_list_add(current, cfg.input_topic, i);
        rd_kafka_topic_partition_list_add(target, cfg.input_topic, i)->offset =
            when;
    }
    if (rd_kafka_committed(rk, current, TIMEOUT_MS) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "provflow replay: cannot read committed offsets\n");
        goto out;
    }
    if (cfg.to_datetime != NULL &&
        rd_kafka_offsets_for_times(rk, target, TIMEOUT_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "provflow replay: cannot look offsets up by time\n");
        goto out;
    }

    printf("%-10s %12s %12s %12s %12s\n", "PARTITION", "CURRENT", "NEW",
           "LOG-END", "REPLAYED");
    for (i = 0; i < target->cnt; i++) {
        rd_kafka_topic_partition_t *e = &target->elems[i];
        int64_t lo = 0, hi = 0, cur = current->elems[i].offset, next;
        char meta[PF_CKPT_META_MIN_SIZE];

        if (rd_kafka_query_watermark_offsets(rk, cfg.input_topic, e->partition,
                                             &lo, &hi, TIMEOUT_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "provflow replay: partition %d: no watermarks\n",
                    e->partition);
            goto out;
        }
        next = cfg.to_earliest ? lo
               : cfg.to_latest ? hi
               : cfg.to_offset ? to_offset
                               : (e->offset < 0 ? hi : e->offset);
        if (next < lo)
            next = lo;
        if (next > hi)
            next = hi;
        if (cur < 0)
            cur = lo; /* nothing committed: the group starts at the start */
        printf("%-10d %12lld %12lld %12lld %12lld\n", e->partition,
               (long long)current->elems[i].offset, (long long)next,
               (long long)hi, (long long)(cur > next ? cur - next : 0));
        total += cur > next ? cur - next : 0;
        e->offset = next;
        /*
         * Everything up to the end may have been processed: check first.
         * An empty partition (hi 0) needs no intent.
         */
        if (pf_ckpt_meta_format(meta, sizeof(meta), hi - 1, -1, NULL) < 0)
            meta[0] = '\0';
        free(e->metadata);
        e->metadata = strdup(meta);
        e->metadata_size = e->metadata != NULL ? strlen(meta) : 0;
    }
    printf("%lld events will be processed again\n", (long long)total);
    if (!cfg.execute) {
        printf("dry run: nothing changed (add --execute to apply)\n");
        rc = PF_EXIT_OK;
        goto out;
    }
    if (rd_kafka_commit(rk, target, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "provflow replay: commit failed\n");
        goto out;
    }
    printf("applied to group %s\n", cfg.group_id);
    rc = PF_EXIT_OK;
out:
    if (current != NULL)
        rd_kafka_topic_partition_list_destroy(current);
    if (target != NULL)
        rd_kafka_topic_partition_list_destroy(target);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    free(want);
    rd_kafka_destroy(rk);
    pf_config_release(&cfg);
    return rc;
}
