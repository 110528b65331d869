// embhub's GraphiQL page: the token a person pastes stays in this browser tab
// (sessionStorage), goes only to this server, and is sent as a bearer token
// with every request, and in connection_init for subscriptions.
(function () {
  "use strict";
  var KEY = "embhub-access-token";
  var input = document.getElementById("token");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  var wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";

  // A fetcher for one token: GraphiQL reloads the schema when it changes.
  function fetcherFor(token) {
    if (!token) {
      return function () {
        return Promise.resolve({ errors: [{ message: "Paste an access token above to run operations." }] });
      };
    }
    var authorization = "Bearer " + token;
    return GraphiQL.createFetcher({
      url: "/graphql",
      subscriptionUrl: wsUrl,
      headers: { Authorization: authorization },
      wsConnectionParams: { Authorization: authorization },
    });
  }

  var current = null;
  function render() {
    var token = input.value.trim();
    if (token === current) return;
    current = token;
    root.render(
      React.createElement(GraphiQL, {
        fetcher: fetcherFor(token),
        defaultQuery: "{\n  viewer {\n    organization {\n      name\n    }\n    roles\n  }\n}\n",
        shouldPersistHeaders: false,
      })
    );
  }

  document.getElementById("token-bar").addEventListener("submit", function (e) {
    e.preventDefault();
  });
  input.value = sessionStorage.getItem(KEY) || "";
  input.addEventListener("input", function () {
    sessionStorage.setItem(KEY, input.value.trim());
    render();
  });
  document.getElementById("forget").addEventListener("click", function () {
    input.value = "";
    sessionStorage.removeItem(KEY);
    render();
  });
  render();
})();
