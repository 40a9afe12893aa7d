package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.apache.camel.Exchange;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.component.kafka.consumer.KafkaManualCommit;
import org.apache.camel.main.Main;

/**
 * The Apache Camel peer of the provflow benchmark (bench/README.md): the
 * route an integration engineer would write, camel-kafka to camel-http to
 * camel-kafka. One Kafka consumer per partition (consumersCount), each
 * handling its records one after the other (per-partition, so per-key,
 * order); the create is a camel-http call in a loop that honours
 * Retry-After and otherwise backs off exponentially with jitter; the
 * outcome goes to the results topic and, for a failure, the original record
 * to the dead-letter topic; only then is the record's offset committed
 * (manual commit, at-least-once).
 */
public final class Peer extends RouteBuilder {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern GUID = Pattern.compile(
            "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    private static final Set<String> TYPES = Set.of("administrativeUnit", "classGroup", "securityGroup", "user");
    private static final Set<Integer> TRANSIENT = Set.of(408, 429, 500, 502, 503, 504);
    private static final int MAX_ATTEMPTS = 10;
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final Map<String, String> opt;
    private final Token token;

    Peer(Map<String, String> opt) {
        this.opt = opt;
        this.token = new Token(opt.get("authority-host"));
    }

    /** The client-credentials token, cached until 5 minutes before expiry. */
    static final class Token {
        private final HttpClient http = HttpClient.newHttpClient();
        private final String authority;
        private String value;
        private long expiresMs;

        Token(String authority) {
            this.authority = authority;
        }

        synchronized String get(boolean force) throws Exception {
            if (force || value == null || expiresMs - System.currentTimeMillis() < 300_000) {
                String form = "grant_type=client_credentials&client_id=" + enc(System.getenv("AZURE_CLIENT_ID"))
                        + "&client_secret=" + enc(System.getenv("AZURE_CLIENT_SECRET"))
                        + "&scope=" + enc("https://graph.microsoft.com/.default");
                HttpRequest req = HttpRequest.newBuilder(URI.create(authority.replaceAll("/$", "") + "/"
                                + System.getenv("AZURE_TENANT_ID") + "/oauth2/v2.0/token"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form)).build();
                HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() != 200) {
                    throw new IllegalStateException("token endpoint: HTTP " + resp.statusCode());
                }
                JsonNode doc = JSON.readTree(resp.body());
                value = doc.get("access_token").asText();
                expiresMs = System.currentTimeMillis() + doc.get("expires_in").asLong() * 1000;
            }
            return value;
        }

        private static String enc(String s) {
            return URLEncoder.encode(s == null ? "" : s, StandardCharsets.UTF_8);
        }
    }

    static String uuid5(String name) throws Exception {
        MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
        sha1.update(new byte[] {0x6b, (byte) 0xa7, (byte) 0xb8, 0x11, (byte) 0x9d, (byte) 0xad, 0x11, (byte) 0xd1,
            (byte) 0x80, (byte) 0xb4, 0x00, (byte) 0xc0, 0x4f, (byte) 0xd4, 0x30, (byte) 0xc8});
        byte[] h = sha1.digest(name.getBytes(StandardCharsets.UTF_8));
        h[6] = (byte) ((h[6] & 0x0f) | 0x50);
        h[8] = (byte) ((h[8] & 0x3f) | 0x80);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                sb.append('-');
            }
            sb.append(String.format("%02x", h[i]));
        }
        return sb.toString();
    }

    static void mask(JsonNode n) {
        if (n instanceof ObjectNode o) {
            Iterator<Map.Entry<String, JsonNode>> it = o.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equalsIgnoreCase("password")) {
                    e.setValue(JSON.getNodeFactory().textNode("***"));
                } else {
                    mask(e.getValue());
                }
            }
        } else if (n != null && n.isArray()) {
            n.forEach(Peer::mask);
        }
    }

    /** Parses and checks the event; the body becomes Graph's request. */
    private void prepare(Exchange e) throws Exception {
        byte[] value = e.getMessage().getBody(byte[].class);
        e.setProperty("original", value);
        e.setProperty("key", e.getMessage().getHeader(KafkaConstants.KEY));
        e.setProperty("partition", e.getMessage().getHeader(KafkaConstants.PARTITION));
        e.setProperty("offset", e.getMessage().getHeader(KafkaConstants.OFFSET));
        e.setProperty("commit", e.getMessage().getHeader(KafkaConstants.MANUAL_COMMIT));
        String error = null;
        JsonNode ev = null;
        try {
            ev = JSON.readTree(value);
        } catch (Exception ex) {
            error = "not JSON: " + ex.getMessage();
        }
        JsonNode data = ev == null ? null : ev.path("data");
        if (error == null) {
            if (!"provflow.provisioningFlow.create".equals(ev.path("type").asText()) || ev.path("id").asText().isEmpty()) {
                error = "type or id";
            } else if (!GUID.matcher(data.path("flowSetId").asText()).matches()) {
                error = "data.flowSetId: not a GUID";
            } else if (!TYPES.contains(data.path("flowType").asText())) {
                error = "data.flowType: unknown";
            } else if (!data.path("flow").isObject()) {
                error = "data.flow: not an object";
            }
        }
        e.setProperty("event", ev);
        e.setProperty("valid", error == null);
        e.setProperty("again", error == null);
        e.setProperty("attempt", 0);
        e.setProperty("started", System.nanoTime());
        if (error != null) {
            e.setProperty("failed", true);
            e.setProperty("error", Map.of("code", "invalid_event", "message", error));
        } else {
            e.setProperty("flowSetId", data.path("flowSetId").asText());
            e.setProperty("crid", uuid5(ev.path("id").asText()));
            e.setProperty("request", JSON.writeValueAsBytes(data.path("flow")));
        }
    }

    private void beforeCall(Exchange e) throws Exception {
        e.setProperty("attempt", e.getProperty("attempt", Integer.class) + 1);
        e.getMessage().removeHeaders("*");
        e.getMessage().setHeader(Exchange.HTTP_METHOD, "POST");
        e.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
        e.getMessage().setHeader("Authorization", "Bearer " + token.get(Boolean.TRUE.equals(e.getProperty("force"))));
        e.getMessage().setHeader("client-request-id", e.getProperty("crid"));
        e.setProperty("force", false);
        e.getMessage().setBody(e.getProperty("request", byte[].class));
    }

    /** Decides: done (created or failed), or again (after a wait). */
    private void afterCall(Exchange e) throws Exception {
        Integer status = e.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        int s = status == null ? 0 : status;
        int attempt = e.getProperty("attempt", Integer.class);
        String body = e.getMessage().getBody(String.class);
        Map<String, Object> graph = new HashMap<>();
        graph.put("httpStatus", s);
        graph.put("requestId", e.getMessage().getHeader("request-id"));
        graph.put("clientRequestId", e.getProperty("crid"));
        graph.put("attempts", attempt);
        graph.put("elapsedMs", (System.nanoTime() - e.getProperty("started", Long.class)) / 1_000_000);
        e.setProperty("graph", graph);
        if (s == 201) {
            JsonNode flow = JSON.readTree(body);
            mask(flow);
            e.setProperty("flow", flow);
            e.setProperty("again", false);
            return;
        }
        if (s == 401 && !Boolean.TRUE.equals(e.getProperty("forced"))) {
            e.setProperty("forced", true);
            e.setProperty("force", true);
            return;
        }
        if ((TRANSIENT.contains(s) || s == 0) && attempt < MAX_ATTEMPTS) {
            String ra = e.getMessage().getHeader("Retry-After", String.class);
            long waitMs;
            try {
                waitMs = Long.parseLong(ra) * 1000;
            } catch (Exception ex) {
                waitMs = ThreadLocalRandom.current().nextLong(Math.min(60_000L, 500L << (attempt - 1)) + 1);
            }
            Thread.sleep(waitMs);
            return;
        }
        e.setProperty("again", false);
        e.setProperty("failed", true);
        Map<String, Object> err = new HashMap<>();
        if (TRANSIENT.contains(s) || s == 0) {
            err.put("code", "retries_exhausted");
            err.put("message", "HTTP " + s);
        } else {
            err.put("code", "rejected");
            err.put("message", "Graph answered " + s);
            try {
                err.put("graphError", JSON.readTree(body).path("error"));
            } catch (Exception ignored) {
                // not JSON: no graphError
            }
        }
        e.setProperty("error", err);
    }

    private void outcome(Exchange e) throws Exception {
        JsonNode ev = e.getProperty("event", JsonNode.class);
        JsonNode data = ev == null ? null : ev.path("data");
        boolean failed = Boolean.TRUE.equals(e.getProperty("failed"));
        String status = failed ? "failed" : "created";
        ObjectNode d = JSON.createObjectNode();
        d.put("requestId", ev == null ? null : ev.path("id").asText(null));
        d.put("flowSetId", data == null ? null : data.path("flowSetId").asText(null));
        d.put("flowType", data == null ? null : data.path("flowType").asText(null));
        d.put("status", status);
        JsonNode flow = e.getProperty("flow", JsonNode.class);
        if (flow != null) {
            d.set("flow", flow);
        }
        if (e.getProperty("graph") != null) {
            d.set("graph", JSON.valueToTree(e.getProperty("graph")));
        }
        if (failed) {
            d.set("error", JSON.valueToTree(e.getProperty("error")));
        }
        ObjectNode in = d.putObject("input");
        in.put("topic", opt.get("input-topic"));
        in.put("partition", e.getProperty("partition", Integer.class));
        in.put("offset", e.getProperty("offset", Long.class));
        ObjectNode ce = JSON.createObjectNode();
        ce.put("specversion", "1.0");
        ce.put("id", uuid5("outcome:" + d.path("requestId").asText() + ":" + status));
        ce.put("source", "urn:peer:camel");
        ce.put("type", "provflow.provisioningFlow." + status);
        if (flow != null && flow.hasNonNull("id")) {
            ce.put("subject", flow.get("id").asText());
        }
        ce.put("time", TIME.format(Instant.now()));
        ce.put("datacontenttype", "application/json");
        ce.set("data", d);
        e.getMessage().removeHeaders("*", KafkaConstants.MANUAL_COMMIT);
        e.getMessage().setHeader(KafkaConstants.KEY, e.getProperty("key"));
        e.getMessage().setBody(JSON.writeValueAsBytes(ce));
    }

    @Override
    public void configure() {
        String brokers = opt.get("brokers");
        String producer = "?brokers=" + brokers + "&enableIdempotence=true&lingerMs=5"
                + "&valueSerializer=org.apache.kafka.common.serialization.ByteArraySerializer";
        from("kafka:" + opt.get("input-topic") + "?brokers=" + brokers + "&groupId=" + opt.get("group-id")
                + "&autoOffsetReset=earliest&autoCommitEnable=false&allowManualCommit=true"
                + "&consumersCount=" + opt.get("consumers") + "&maxPollRecords=500&breakOnFirstError=true"
                + "&valueDeserializer=org.apache.kafka.common.serialization.ByteArrayDeserializer"
                + "&kafkaManualCommitFactory=#class:"
                + "org.apache.camel.component.kafka.consumer.DefaultKafkaManualAsyncCommitFactory")
            .routeId("provision")
            .process(this::prepare)
            .removeHeaders("*", KafkaConstants.MANUAL_COMMIT)
            .loopDoWhile(exchangeProperty("again").isEqualTo(true))
                .process(this::beforeCall)
                .toD(opt.get("graph-root").replaceAll("/$", "")
                        + "/beta/external/industryData/outboundProvisioningFlowSets/"
                        + "${exchangeProperty.flowSetId}/provisioningFlows?throwExceptionOnFailure=false")
                .process(this::afterCall)
            .end()
            .process(this::outcome)
            .to("kafka:" + opt.get("results-topic") + producer)
            .filter(exchangeProperty("failed").isEqualTo(true))
                .setBody(exchangeProperty("original"))
                .to("kafka:" + opt.get("dead-letter-topic") + producer)
            .end()
            .process(e -> e.getProperty("commit", KafkaManualCommit.class).commit());
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>(Map.of(
                "brokers", "127.0.0.1:9092", "input-topic", "provisioning-requests",
                "results-topic", "provisioning-results", "dead-letter-topic", "provisioning-dead-letters",
                "group-id", "peer-camel", "graph-root", "https://graph.microsoft.com",
                "authority-host", "https://login.microsoftonline.com", "consumers", "12"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Main main = new Main();
        main.configure().addRoutesBuilder(new Peer(opt));
        main.configure().withShutdownTimeout(5);
        main.run();
    }
}
