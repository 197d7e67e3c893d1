(function(){try{var h=document.querySelector("#heatmap svg")||document.getElementById("heatmap");
document.body.dataset.heatmapWidth=String(h?Math.round(h.getBoundingClientRect().width):0);}
catch(e){window.__reportErrors++;}document.body.dataset.jsErrors=String(window.__reportErrors);})();
