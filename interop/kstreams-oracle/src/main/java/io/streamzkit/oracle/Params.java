package io.streamzkit.oracle;

import com.fasterxml.jackson.databind.JsonNode;

/** A case's scenario parameters, with the defaults a scenario gives when one is missing. */
final class Params {
    private final JsonNode node;

    Params(JsonNode node) {
        this.node = node;
    }

    long l(String name, long dflt) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? dflt : v.asLong();
    }

    int i(String name, int dflt) {
        return (int) l(name, dflt);
    }

    String s(String name, String dflt) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    boolean b(String name, boolean dflt) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? dflt : v.asBoolean();
    }
}
