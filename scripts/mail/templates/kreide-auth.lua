-- Written by `kreide mail-config`: Dovecot asks Kreide whether a password is right.
-- Kreide applies the same rules as its web sign-in (lockout, two-factor accounts only with
-- an app password, deactivated accounts and forced password changes refused) and answers
-- with the account's canonical mail address.
local socket = require("socket")
local HOST = "${host}"
local PORT = ${auth_port}

local function field(value)
  return (tostring(value or ""):gsub("[%%\t\r\n]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function unescape(value)
  return (value:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

function auth_passdb_lookup(req)
  return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, ""
end

function auth_password_verify(req, password)
  local conn = socket.tcp()
  conn:settimeout(5)
  local ok, err = conn:connect(HOST, PORT)
  if not ok then
    req:log_error("Kreide's mail service is unreachable: " .. tostring(err))
    return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, ""
  end
  conn:send(table.concat({"auth", field(req.user), field(password), field(req.remote_ip),
    field(req.service)}, "\t") .. "\n")
  local line = conn:receive("*l")
  conn:close()
  if line == nil then
    return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, ""
  end
  local verdict, value = line:match("^(%u+)\t?(.*)$$")
  if verdict == "OK" then
    return dovecot.auth.PASSDB_RESULT_OK, { user = unescape(value) }
  elseif verdict == "DISABLED" and req.service == "imap" then
    -- nologin with a reason: the mail program shows why (not just "failed").
    return dovecot.auth.PASSDB_RESULT_OK, { nologin = "y", reason = unescape(value) }
  elseif verdict == "DISABLED" then
    -- SMTP (Postfix's SASL) does not know nologin: refuse outright.
    return dovecot.auth.PASSDB_RESULT_USER_DISABLED, ""
  elseif verdict == "FAIL" then
    return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, ""
  end
  return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, ""
end
