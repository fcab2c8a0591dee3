package org.callrep.client;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Phone is callrep's reference client: it keeps the filters a phone
 * downloads (each a full snapshot and the deltas since, persisted
 * atomically), keeps them current with the sync of docs/phone-contract.md,
 * and screens a ringing number with the precedence the spec gives: the
 * user's own label and contacts, then the filters, then the online lookup
 * as confirmation.
 */
public final class Phone {
    /** LISTS are the filters, in the order a phone tests them. */
    public static final List<String> LISTS = List.of("block", "fraud", "spam", "benign");
    private static final int MAX_DOWNLOAD = 1 << 30;

    private final Path dir;
    private final String base;
    private final HttpClient http;
    private final Map<String, Held> filters = new HashMap<>();

    /** Held is one filter on the phone: a full snapshot and its deltas. */
    private record Held(Filter full, List<Filter> deltas) {
        long version() {
            return deltas.isEmpty() ? full.version : deltas.get(deltas.size() - 1).version;
        }
    }

    /** open loads the filters kept in dir; baseUrl is the callrep server. */
    public Phone(Path dir, String baseUrl, HttpClient http) throws IOException {
        this.dir = dir;
        this.base = baseUrl.replaceAll("/+$", "");
        this.http = http;
        Files.createDirectories(dir);
        for (String name : LISTS) {
            Held h = load(name);
            if (h != null) {
                filters.put(name, h);
            }
        }
    }

    private Path path(String name, int i) {
        return dir.resolve(i == 0 ? name + ".crbf" : name + ".delta" + i + ".crbf");
    }

    /** load reads a filter and its deltas; a corrupt file drops it (it is downloaded again). */
    private Held load(String name) throws IOException {
        Filter full;
        try {
            full = Filter.parse(Files.readAllBytes(path(name, 0)), null);
        } catch (NoSuchFileException e) {
            return null;
        } catch (Filter.BadFilterException e) {
            return null;
        }
        if (full.delta() || !full.name.equals(name)) {
            return null;
        }
        Held h = new Held(full, new ArrayList<>());
        for (int i = 1;; i++) {
            try {
                Filter d = Filter.parse(Files.readAllBytes(path(name, i)), null);
                if (!d.delta() || d.base != h.version()) {
                    break;
                }
                h.deltas.add(d);
            } catch (IOException | Filter.BadFilterException e) {
                break;
            }
        }
        return h;
    }

    /** version returns the version held of name; 0 when none. */
    public synchronized long version(String name) {
        Held h = filters.get(name);
        return h == null ? 0 : h.version();
    }

    /** deltas returns how many deltas are held next to name's full snapshot. */
    public synchronized int deltas(String name) {
        Held h = filters.get(name);
        return h == null ? 0 : h.deltas.size();
    }

    /** check returns the first list that may hold key, or null. */
    public synchronized String check(String key) {
        for (String name : LISTS) {
            Held h = filters.get(name);
            if (h == null) {
                continue;
            }
            if (h.full.test(key)) {
                return name;
            }
            for (Filter d : h.deltas) {
                if (d.test(key)) {
                    return name;
                }
            }
        }
        return null;
    }

    /**
     * sync brings every filter up to date. A download that is corrupt,
     * truncated or does not match its ETag is refused and the filter kept
     * as it was; the exception says which.
     */
    public void sync() throws IOException, InterruptedException {
        HttpResponse<String> resp = http.send(get("/v1/filters").build(), HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IOException("GET /v1/filters: " + resp.statusCode());
        }
        List<String> failed = new ArrayList<>();
        for (Object o : Json.list(Json.object(Json.parse(resp.body())).get("filters"))) {
            Map<String, Object> meta = Json.object(o);
            String name = (String) meta.get("name");
            if (!LISTS.contains(name) || version(name) == (Long) meta.get("version")) {
                continue;
            }
            try {
                fetch(name);
            } catch (IOException | Filter.BadFilterException e) {
                failed.add(name + ": " + e.getMessage());
            }
        }
        if (!failed.isEmpty()) {
            throw new IOException("sync: " + String.join("; ", failed));
        }
    }

    private HttpRequest.Builder get(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET();
    }

    private void fetch(String name) throws IOException, InterruptedException, Filter.BadFilterException {
        Held h;
        synchronized (this) {
            h = filters.get(name);
        }
        HttpRequest.Builder req = get("/v1/filters/" + name + (h == null ? "" : "?since=" + h.version()));
        if (h != null) {
            req.header("If-None-Match", "\"" + h.full.sha256 + "\"");
        }
        HttpResponse<byte[]> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
        if (resp.statusCode() == 304) {
            return;
        }
        if (resp.statusCode() != 200) {
            throw new IOException("download: " + resp.statusCode());
        }
        if (resp.body().length > MAX_DOWNLOAD) {
            throw new IOException("download: too large");
        }
        String etag = resp.headers().firstValue("ETag").orElse("").replace("\"", "");
        if (etag.isEmpty()) {
            throw new IOException("download: no ETag");
        }
        Filter s = Filter.parse(resp.body(), etag);
        if (!s.name.equals(name)) {
            throw new Filter.BadFilterException("download is filter " + s.name);
        }
        apply(name, s);
    }

    /**
     * apply takes a parsed download: a full snapshot replaces the filter and
     * drops its deltas, a delta must continue the version held.
     */
    public synchronized void apply(String name, Filter s) throws IOException, Filter.BadFilterException {
        Held cur = filters.get(name);
        if (!s.delta()) {
            store(path(name, 0), s.bytes());
            for (int i = 1; Files.deleteIfExists(path(name, i)); i++) {
                // the deltas of the old snapshot
            }
            filters.put(name, new Held(s, new ArrayList<>()));
            return;
        }
        if (cur == null || s.base != cur.version()) {
            throw new Filter.BadFilterException("delta from version " + s.base + " does not fit the phone's " + version(name));
        }
        store(path(name, cur.deltas.size() + 1), s.bytes());
        cur.deltas.add(s);
    }

    /** store writes a file atomically: a crash leaves the old file or the new. */
    private void store(Path p, byte[] b) throws IOException {
        Path tmp = Files.createTempFile(dir, p.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, b);
            Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Lookup is the server's answer about a number. */
    public record Lookup(String key, String verdict, long score) {}

    /** lookup asks the server about a caller ID (GET /v1/numbers/{number}). */
    public Lookup lookup(String raw, String region) throws IOException, InterruptedException {
        String path = "/v1/numbers/" + URLEncoder.encode(raw, StandardCharsets.UTF_8).replace("+", "%20");
        if (region != null) {
            path += "?region=" + region;
        }
        HttpResponse<String> resp = http.send(get(path).build(), HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IOException("lookup: " + resp.statusCode() + " " + resp.body());
        }
        Map<String, Object> r = Json.object(Json.parse(resp.body()));
        return new Lookup((String) r.get("number"), (String) r.get("verdict"), (Long) r.get("score"));
    }

    /** Screening is what the phone decides for a ringing number, and why. */
    public record Screening(String decision, String reason) {}

    /**
     * screen decides for a ringing caller ID: a contact rings; the user's
     * own label (from an earlier lookup's my_label) wins over the filters;
     * a number with no key is not looked up (an emergency number always
     * rings); else the filters are tested, and a hit is confirmed online
     * when confirm is set, as is a key the phone cannot derive for sure.
     */
    public Screening screen(String raw, String region, boolean contact, String myLabel, boolean confirm)
            throws IOException, InterruptedException {
        if (contact) {
            return new Screening("ring", "contact");
        }
        if (myLabel != null) {
            return new Screening(myLabel.equals("safe") ? "ring" : "warn", "own label " + myLabel);
        }
        Keys.Result k = Keys.derive(raw, region);
        if (!k.ok() && !k.askServer()) {
            return new Screening("ring", k.error());
        }
        String key = k.key();
        if (k.askServer()) {
            key = lookup(raw, region).key();
        }
        String hit = check(key);
        if (hit == null) {
            return new Screening("ring", "no filter holds " + key);
        }
        if (confirm) {
            Lookup l = lookup(key, null);
            if (l.verdict().equals("unknown") || l.verdict().equals("safe")) {
                return new Screening("ring", hit + " filter, not confirmed online: " + l.verdict());
            }
        }
        return new Screening(hit.equals("block") ? "reject" : "warn", hit + " filter");
    }
}
