// The `raftlab ui` page (GET /, docs/ui.md): one self-contained HTML document, no CDN and no
// other asset request (the favicon is a data: URL). RaftScope's picture of the live cluster:
// the nodes in a ring with their election timers, messages as dots, held messages waiting,
// faults on the links, each node's log, a menu of actions per node and per link, and a time
// slider over the trace so far. Its data come from GET /api/state, the SSE stream
// /api/events and GET /api/timeline; its actions go to POST /api/action. The script is
// cmd/ui/page_script.h after the log model it shares with the timeline page
// (cmd/timeline/page_view.h, kLogModelJs).
#pragma once

#include "cmd/timeline/page_view.h"
#include "cmd/ui/page_script.h"

namespace raftlab::ui {

inline constexpr char kUiHead[] = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>raftlab ui</title>
<style>
body{font:13px/1.45 system-ui,sans-serif;margin:10px 14px;color:#222;background:#fff}
h1{font-size:18px;margin:0 8px 0 0;display:inline}
#top{display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}
#conn{font-size:12px;color:#666} #conn.bad{color:#c00}
#note{font-size:12px;color:#666;margin:2px 0 6px}
#main{display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap}
#stage{position:relative;flex:0 0 auto}
#ring{width:600px;height:500px;border:1px solid #ccc;background:#fcfcfc;user-select:none;cursor:default}
#side{flex:1 1 360px;min-width:340px;max-width:560px}
fieldset{border:1px solid #ccc;border-radius:4px;margin:0 0 8px;padding:4px 8px 6px}
legend{font-size:12px;color:#444}
button{font:12px system-ui,sans-serif;padding:2px 8px;cursor:pointer;border:1px solid #aaa;border-radius:4px;
background:#f8f8f8;margin:1px}
button:hover{background:#eef}
input[type=text]{font:12px ui-monospace,monospace;width:110px}
select{font-size:12px}
#out{background:#f6f6f6;padding:4px 6px;min-height:16px;max-height:120px;overflow:auto;
font:12px ui-monospace,monospace;white-space:pre-wrap;margin:0}
#out.fail{background:#fdecec}
#heldList,#actions,#faultsText{font:12px ui-monospace,monospace;max-height:150px;overflow:auto;margin:0}
#actions{white-space:pre-wrap}
#heldList div{white-space:nowrap} #heldList button{padding:0 5px}
.menu{position:absolute;display:none;background:#fff;border:1px solid #888;border-radius:5px;padding:4px;
box-shadow:0 2px 8px rgba(0,0,0,.25);z-index:5;min-width:120px}
.menu b{display:block;font-size:12px;margin:0 2px 3px}
.menu button{display:block;width:100%;text-align:left}
#legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;color:#333;margin:4px 0}
#legend .sw{display:inline-block;width:11px;height:11px;vertical-align:-1px;margin-right:3px;border:1px solid #888}
#sliderRow{display:flex;gap:8px;align-items:center;margin:8px 0 4px;max-width:1200px} #slider{flex:1}
#mode{font-weight:bold} #mode.replay{color:#b35c00}
#logs{display:block;width:100%;max-width:1200px;border:1px solid #ccc}
</style>
</head>
<body>
<div id="top"><h1>raftlab ui</h1><span id="cluster"></span><span id="conn">connecting…</span></div>
<p id="note">Live from the nodes' status and traces. A real message on loopback takes under 1 ms,
so each dot flies for a fixed 400 ms to be seen; at most 80 dots at once, and at most one
heartbeat per link every 300 ms. Click a node or a link for its actions, a held message (a
square by its sender) to deliver or drop it.</p>
<div id="legend"></div>
<div id="main">
<div id="stage">
<svg id="ring" viewBox="0 0 600 500" xmlns="http://www.w3.org/2000/svg">
<g id="linksG"></g><g id="nodesG"></g><g id="heldG"></g><g id="dotsG"></g>
</svg>
<div id="menu" class="menu"></div>
</div>
<div id="side">
<fieldset><legend>last action</legend><pre id="out">(none yet)</pre></fieldset>
<fieldset><legend>network</legend>
<div>partition <input type="text" id="groups" placeholder="1,2 3,4,5">
<button id="partition">partition</button> <button id="heal">heal all cuts</button></div>
<pre id="faultsText"></pre></fieldset>
<fieldset><legend>hold messages at their sender</legend>
<div>from <select id="holdFrom"></select> to <select id="holdTo"></select>
type <select id="holdType"></select> <button id="hold">hold</button>
<button id="release">release all</button></div>
<div><span id="heldCount">0 held</span> <button id="deliverAll">deliver all</button>
<button id="dropAll">drop all</button></div>
<div id="heldList"></div></fieldset>
<fieldset><legend>put a value</legend>
key <input type="text" id="putKey" value="x"> value <input type="text" id="putValue" value="1">
<button id="put">put</button></fieldset>
<fieldset><legend>recent CLI actions (actions.jsonl)</legend><div id="actions"></div></fieldset>
</div>
</div>
<div id="sliderRow"><span id="mode">live</span><button id="replay">replay the trace</button>
<input id="slider" type="range" min="0" max="1" step="1" value="1" disabled>
<span id="sliderTime"></span><button id="play" disabled>play</button><button id="live">live</button></div>
<canvas id="logs"></canvas>
<script>
)HTML";

inline constexpr char kUiTail[] = R"HTML(
</script>
</body>
</html>
)HTML";

inline constexpr auto kUiPageText =
    timeline::join_text(kUiHead, timeline::kLogModelJs, kUiJs, kUiTail);
/// The whole page, served as GET / (`text/html; charset=utf-8`).
inline constexpr const char* kUiPage = kUiPageText.data();

}  // namespace raftlab::ui
