// Command peer is the Go peer of the provflow benchmark (bench/README.md):
// what a competent Go engineer would write instead of provflow. franz-go
// consumes the request topic in a consumer group with one goroutine per
// assigned partition (the ordering model of Kafka Connect sinks and
// Benthos: records of a partition, and so of a key, are handled one after
// the other); each record becomes a POST to Graph over net/http (client
// credentials token, cached; Retry-After honoured, exponential backoff
// with full jitter otherwise); an outcome CloudEvent goes to the results
// topic and, for a failure, the original record to the dead-letter topic.
// At-least-once: after each fetched batch of a partition the goroutine
// waits for every produce of that batch to be acknowledged and only then
// marks the batch's last record for the periodic auto-commit.
package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	brokers   = flag.String("brokers", "127.0.0.1:9092", "bootstrap servers")
	inTopic   = flag.String("input-topic", "provisioning-requests", "request events")
	resTopic  = flag.String("results-topic", "provisioning-results", "outcome records")
	dlqTopic  = flag.String("dead-letter-topic", "provisioning-dead-letters", "failed records")
	group     = flag.String("group-id", "peer-go", "consumer group")
	graphRoot = flag.String("graph-root", "https://graph.microsoft.com", "Graph root URL")
	authority = flag.String("authority-host", "https://login.microsoftonline.com", "identity platform")
	maxConns  = flag.Int("max-in-flight", 64, "HTTP connections to Graph at most")
	attempts  = flag.Int("max-attempts", 10, "tries per event")
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var flowTypes = map[string]bool{"administrativeUnit": true, "classGroup": true,
	"securityGroup": true, "user": true}

var httpClient *http.Client

// --- token ---------------------------------------------------------------

type tokenCache struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

var tok tokenCache

func (t *tokenCache) get(force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && t.token != "" && time.Until(t.expires) > 5*time.Minute {
		return t.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {os.Getenv("AZURE_CLIENT_ID")},
		"client_secret": {os.Getenv("AZURE_CLIENT_SECRET")},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	u := strings.TrimRight(*authority, "/") + "/" + os.Getenv("AZURE_TENANT_ID") + "/oauth2/v2.0/token"
	resp, err := httpClient.PostForm(u, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("token endpoint: HTTP %d %v", resp.StatusCode, err)
	}
	t.token = body.AccessToken
	t.expires = time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)
	return t.token, nil
}

// --- the event and its outcome ---------------------------------------------

type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		FlowSetID string          `json:"flowSetId"`
		FlowType  string          `json:"flowType"`
		Flow      json.RawMessage `json:"flow"`
	} `json:"data"`
}

type graphInfo struct {
	HTTPStatus      int    `json:"httpStatus"`
	RequestID       string `json:"requestId,omitempty"`
	ClientRequestID string `json:"clientRequestId"`
	Attempts        int    `json:"attempts"`
	ElapsedMs       int64  `json:"elapsedMs"`
}

type outcomeError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	GraphError any    `json:"graphError,omitempty"`
}

type outcomeData struct {
	RequestID string        `json:"requestId"`
	FlowSetID string        `json:"flowSetId,omitempty"`
	FlowType  string        `json:"flowType,omitempty"`
	Status    string        `json:"status"`
	Flow      any           `json:"flow,omitempty"`
	Graph     *graphInfo    `json:"graph,omitempty"`
	Error     *outcomeError `json:"error,omitempty"`
	Input     struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"input"`
}

type cloudEvent struct {
	SpecVersion     string      `json:"specversion"`
	ID              string      `json:"id"`
	Source          string      `json:"source"`
	Type            string      `json:"type"`
	Subject         string      `json:"subject,omitempty"`
	Time            string      `json:"time"`
	DataContentType string      `json:"datacontenttype"`
	Data            outcomeData `json:"data"`
}

// uuid5 of name in the URL name space (RFC 4122).
func uuid5(name string) string {
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(name))
	s := h.Sum(nil)
	s[6] = (s[6] & 0x0f) | 0x50
	s[8] = (s[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// mask replaces every "password" member's value with "***".
func mask(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.EqualFold(k, "password") {
				x[k] = "***"
			} else {
				mask(e)
			}
		}
	case []any:
		for _, e := range x {
			mask(e)
		}
	}
}

func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second, true
	}
	return 0, false
}

// create posts the flow; returns the outcome's data (status filled in).
func create(ev *event, crid string) outcomeData {
	var d outcomeData
	u := strings.TrimRight(*graphRoot, "/") + "/beta/external/industryData/outboundProvisioningFlowSets/" +
		ev.Data.FlowSetID + "/provisioningFlows"
	start := time.Now()
	g := &graphInfo{ClientRequestID: crid}
	d.Graph = g
	forced := false
	for attempt := 1; ; attempt++ {
		g.Attempts = attempt
		token, err := tok.get(false)
		var resp *http.Response
		if err == nil {
			req, _ := http.NewRequest("POST", u, bytes.NewReader(ev.Data.Flow))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("client-request-id", crid)
			resp, err = httpClient.Do(req)
		}
		var body []byte
		status := 0
		var wait time.Duration
		haveWait := false
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
			g.HTTPStatus = status
			g.RequestID = resp.Header.Get("request-id")
			wait, haveWait = retryAfter(resp.Header)
		}
		g.ElapsedMs = time.Since(start).Milliseconds()
		switch {
		case err == nil && status == 201:
			var flow map[string]any
			if json.Unmarshal(body, &flow) == nil {
				mask(flow)
				d.Flow = flow
			}
			d.Status = "created"
			return d
		case err == nil && status == 401 && !forced:
			forced = true
			tok.get(true)
			continue
		case err == nil && status != 429 && status != 408 && status < 500:
			var ge struct {
				Error any `json:"error"`
			}
			json.Unmarshal(body, &ge)
			d.Status = "failed"
			d.Error = &outcomeError{Code: "rejected", Message: fmt.Sprintf("Graph answered %d", status), GraphError: ge.Error}
			return d
		}
		// Transient: 429, 408, 5xx, connection errors.
		if attempt >= *attempts {
			d.Status = "failed"
			msg := fmt.Sprintf("HTTP %d", status)
			if err != nil {
				msg = err.Error()
			}
			d.Error = &outcomeError{Code: "retries_exhausted", Message: msg}
			return d
		}
		if !haveWait {
			window := 500 * time.Millisecond << (attempt - 1)
			if window > 60*time.Second {
				window = 60 * time.Second
			}
			wait = time.Duration(rand.Int64N(int64(window)))
		}
		time.Sleep(wait)
	}
}

func process(r *kgo.Record) (out *kgo.Record, dlq *kgo.Record) {
	var ev event
	var d outcomeData
	err := json.Unmarshal(r.Value, &ev)
	crid := uuid5(ev.ID)
	switch {
	case err != nil:
		d = outcomeData{Status: "failed", Error: &outcomeError{Code: "invalid_event", Message: err.Error()}}
	case ev.ID == "" || ev.Type != "provflow.provisioningFlow.create":
		d = outcomeData{Status: "failed", Error: &outcomeError{Code: "invalid_event", Message: "id or type"}}
	case !guidRE.MatchString(ev.Data.FlowSetID):
		d = outcomeData{Status: "failed", Error: &outcomeError{Code: "invalid_event", Message: "data.flowSetId: not a GUID"}}
	case !flowTypes[ev.Data.FlowType]:
		d = outcomeData{Status: "failed", Error: &outcomeError{Code: "invalid_event", Message: "data.flowType: unknown"}}
	case len(ev.Data.Flow) == 0 || ev.Data.Flow[0] != '{':
		d = outcomeData{Status: "failed", Error: &outcomeError{Code: "invalid_event", Message: "data.flow: not an object"}}
	default:
		d = create(&ev, crid)
	}
	d.RequestID = ev.ID
	d.FlowSetID = ev.Data.FlowSetID
	d.FlowType = ev.Data.FlowType
	d.Input.Topic, d.Input.Partition, d.Input.Offset = r.Topic, r.Partition, r.Offset
	ce := cloudEvent{SpecVersion: "1.0", ID: uuid5("outcome:" + ev.ID + ":" + d.Status),
		Source: "urn:peer:go", Type: "provflow.provisioningFlow." + d.Status,
		Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), DataContentType: "application/json", Data: d}
	if f, ok := d.Flow.(map[string]any); ok {
		if id, ok := f["id"].(string); ok {
			ce.Subject = id
		}
	}
	v, _ := json.Marshal(ce)
	out = &kgo.Record{Topic: *resTopic, Key: r.Key, Value: v}
	if d.Status == "failed" {
		dlq = &kgo.Record{Topic: *dlqTopic, Key: r.Key, Value: r.Value, Headers: append(r.Headers,
			kgo.RecordHeader{Key: "provflow-error-code", Value: []byte(d.Error.Code)},
			kgo.RecordHeader{Key: "provflow-error-message", Value: []byte(d.Error.Message)})}
	}
	return out, dlq
}

// --- one goroutine per partition --------------------------------------------

type tp struct {
	t string
	p int32
}

type worker struct {
	cl   *kgo.Client
	quit chan struct{}
	done chan struct{}
	recs chan []*kgo.Record
}

func (w *worker) run() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			return
		case recs := <-w.recs:
			var wg sync.WaitGroup
			var failed error
			var mu sync.Mutex
			promise := func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
				wg.Done()
			}
			for _, r := range recs {
				out, dlq := w.process(r)
				wg.Add(1)
				w.cl.Produce(context.Background(), out, promise)
				if dlq != nil {
					wg.Add(1)
					w.cl.Produce(context.Background(), dlq, promise)
				}
			}
			wg.Wait()
			if failed != nil {
				log.Fatalf("produce failed, not committing: %v", failed)
			}
			w.cl.MarkCommitRecords(recs[len(recs)-1])
		}
	}
}

func (w *worker) process(r *kgo.Record) (*kgo.Record, *kgo.Record) { return process(r) }

type splitter struct {
	mu      sync.Mutex
	workers map[tp]*worker
}

func (s *splitter) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range assigned {
		for _, p := range parts {
			w := &worker{cl: cl, quit: make(chan struct{}), done: make(chan struct{}),
				recs: make(chan []*kgo.Record, 4)}
			s.workers[tp{topic, p}] = w
			go w.run()
		}
	}
}

func (s *splitter) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	s.stop(revoked)
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		log.Printf("commit on revoke: %v", err)
	}
}

func (s *splitter) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) { s.stop(lost) }

func (s *splitter) stop(parts map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ws []*worker
	for topic, ps := range parts {
		for _, p := range ps {
			if w, ok := s.workers[tp{topic, p}]; ok {
				delete(s.workers, tp{topic, p})
				close(w.quit)
				ws = append(ws, w)
			}
		}
	}
	for _, w := range ws {
		<-w.done
	}
}

func main() {
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	httpClient = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        *maxConns,
			MaxIdleConnsPerHost: *maxConns,
			MaxConnsPerHost:     *maxConns,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	s := &splitter{workers: map[tp]*worker{}}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*inTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Second),
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tok.get(false); err != nil {
		log.Fatalf("token: %v", err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	go func() {
		<-ctx.Done()
		cl.Close() // revokes (commits marked offsets) and leaves the group
	}()
	for {
		fetches := cl.PollRecords(ctx, 10000)
		if fetches.IsClientClosed() || errors.Is(ctx.Err(), context.Canceled) {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			log.Printf("fetch %s/%d: %v", t, p, err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			s.mu.Lock()
			w := s.workers[tp{p.Topic, p.Partition}]
			s.mu.Unlock()
			if w != nil {
				select {
				case w.recs <- p.Records:
				case <-ctx.Done():
				}
			}
		})
		cl.AllowRebalance()
	}
}
