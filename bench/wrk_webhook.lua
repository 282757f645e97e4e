-- A signed Shopify webhook per request, each with its own X-Shopify-Webhook-Id.
-- The HMAC covers the body only, so one body and one signature serve every request.
-- Env: BODY_FILE, HMAC, SHOP, DELAY_MS (optional: pause per request, for a fixed lower load).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = io.open(os.getenv("BODY_FILE"), "rb")
  body = f:read("*all")
  f:close()
  hmac = os.getenv("HMAC")
  shop = os.getenv("SHOP")
  delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
  run = os.getenv("RUN_ID") or "run"
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = "orders/updated",
    ["X-Shopify-Hmac-Sha256"] = hmac,
    ["X-Shopify-Shop-Domain"] = shop,
    ["X-Shopify-Webhook-Id"] = run .. "-" .. id .. "-" .. counter,
    ["X-Shopify-Triggered-At"] = "2026-11-01T10:00:00Z",
    ["X-Shopify-API-Version"] = "2026-10",
  }
  return wrk.format("POST", nil, headers, body)
end

function delay()
  return delay_ms
end
